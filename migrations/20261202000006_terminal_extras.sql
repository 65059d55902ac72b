-- VAT tax-refund slips (택스리펀드) issued on in-store terminals (050010), their cancels (050020) and what the
-- terminal last said of them (900050). The protocol gives them no ptxid the terminal must echo and 990001 does
-- not cover them, so a slip whose answer was lost stays `unknown`: nothing retries an issue by itself.

CREATE TABLE terminal_tax_refunds (
    id                uuid PRIMARY KEY,
    terminal_id       text NOT NULL CHECK (length(terminal_id) BETWEEN 1 AND 64),
    status            text NOT NULL CHECK (status IN ('requested', 'issued', 'failed', 'unknown', 'cancelled')),
    -- t650p, medical, hotel or goods: which of the seed's request shapes was sent.
    variant           text NOT NULL,
    order_id          text REFERENCES orders (order_id),
    -- The 050010 body as sent.
    request           jsonb NOT NULL,
    -- The slip as the terminal last described it (issue, cancel or inquiry answer), as received.
    slip              jsonb,
    tax_refund_serial text,
    refund_serial     text,
    refund_balance    bigint,
    result_code       text,
    result_message    text,
    -- The cancel: at most one at a time; a failed one may be retried.
    cancel_status     text CHECK (cancel_status IN ('requested', 'succeeded', 'failed', 'unknown')),
    cancel_result_code    text,
    cancel_result_message text,
    cancelled_at      timestamptz,
    -- When the terminal last answered an inquiry (900050) about it.
    inquired_at       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    -- An issued slip is named by its serial: the cancel and the inquiry send it.
    CHECK (status NOT IN ('issued', 'cancelled') OR tax_refund_serial IS NOT NULL),
    CHECK ((status = 'cancelled') = (cancel_status IS NOT DISTINCT FROM 'succeeded'))
);
CREATE INDEX terminal_tax_refunds_terminal ON terminal_tax_refunds (terminal_id, created_at);
