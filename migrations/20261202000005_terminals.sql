-- In-store card terminals: each transaction the gateway (as the POS) starts on a terminal, and every message
-- exchanged with a terminal, raw.

CREATE TABLE terminal_transactions (
    id              uuid PRIMARY KEY,
    terminal_id     text NOT NULL CHECK (length(terminal_id) BETWEEN 1 AND 64),
    kind            text NOT NULL CHECK (kind IN ('card_approval', 'card_cancel', 'easy_pay_approval',
                                                  'easy_pay_cancel', 'cash_receipt', 'cash_receipt_cancel')),
    status          text NOT NULL CHECK (status IN ('requested', 'awaiting_signature', 'succeeded', 'failed',
                                                    'aborted', 'unknown')),
    -- The POS's transaction id: sent with the request, echoed in the answer, and how 990001 is matched.
    ptxid           text NOT NULL UNIQUE,
    order_id        text REFERENCES orders (order_id),
    -- A cancel transaction settles this cancellation of the order.
    cancellation_id uuid REFERENCES cancellations (id),
    -- What a cancel transaction cancels: the approval transaction whose numbers it sends back.
    original_id     uuid REFERENCES terminal_transactions (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    abort_requested boolean NOT NULL DEFAULT false,
    -- What the request carried besides the amount (tax, tip, installment, service code, ...), as sent.
    request         jsonb NOT NULL,
    approval_no     text,
    transaction_no  text,
    transaction_date text,
    approved_amount bigint,
    issuer_code     text,
    issuer_name     text,
    acquirer_code   text,
    acquirer_name   text,
    masked_card     text,
    result_code     text,
    result_message  text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    -- A settled transaction has its completion time, an open one none.
    CHECK ((status IN ('requested', 'awaiting_signature', 'unknown')) = (completed_at IS NULL)),
    -- A successful one carries what identifies it at the terminal (cancels name it).
    CHECK (status <> 'succeeded' OR (approval_no IS NOT NULL AND transaction_no IS NOT NULL
                                     AND transaction_date IS NOT NULL AND approved_amount IS NOT NULL))
);

-- Rule 1: at most one open transaction per terminal, whichever replica started it.
CREATE UNIQUE INDEX terminal_transactions_one_open ON terminal_transactions (terminal_id)
    WHERE status IN ('requested', 'awaiting_signature', 'unknown');
CREATE INDEX terminal_transactions_order ON terminal_transactions (order_id) WHERE order_id IS NOT NULL;
-- A cancellation is settled by one terminal transaction only.
CREATE UNIQUE INDEX terminal_transactions_cancellation ON terminal_transactions (cancellation_id)
    WHERE cancellation_id IS NOT NULL;
CREATE INDEX terminal_transactions_created ON terminal_transactions (terminal_id, created_at);

-- Every frame in and out, as bytes, before it is interpreted (inbound) or once it was written (outbound).
CREATE TABLE terminal_messages (
    seq            bigserial PRIMARY KEY,
    terminal_id    text NOT NULL,
    direction      text NOT NULL CHECK (direction IN ('in', 'out')),
    -- The header's 6-digit type, when the header could be read.
    message_type   text,
    frame          bytea NOT NULL,
    transaction_id uuid REFERENCES terminal_transactions (id),
    -- Why an inbound frame was not applied (a protocol error, an unknown type, another ptxid), if it was not.
    note           text,
    at             timestamptz NOT NULL
);
CREATE INDEX terminal_messages_transaction ON terminal_messages (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX terminal_messages_terminal ON terminal_messages (terminal_id, seq);

