-- Refunds the merchant makes itself (virtual-account money goes back by bank transfer, not through Smartro), and
-- the operator's resolution of an order under review. Money invariants stay table constraints.

-- What the merchant has paid back by its own transfers. Together with what Smartro cancelled it never exceeds
-- what was paid, whichever code path writes the row.
ALTER TABLE orders ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0);
ALTER TABLE orders DROP CONSTRAINT cancelled_within_paid;
ALTER TABLE orders ADD CONSTRAINT cancelled_within_paid
    CHECK (cancelled_amount + refunded_amount <= paid_amount);

-- The TID of the payment (or of the payment a cancel notice named) that made the order `needs_review`: what an
-- operator's `accept` takes as the order's payment, or `cancel` sends Smartro a cancel of.
ALTER TABLE orders ADD COLUMN review_tid text;

CREATE TABLE refunds (
    id           uuid PRIMARY KEY,
    seq          bigserial NOT NULL,                -- the order refunds are listed in within one instant
    order_id     text NOT NULL REFERENCES orders (order_id),
    amount       bigint NOT NULL CHECK (amount > 0),
    reason       text NOT NULL,
    bank_code    text NOT NULL,                     -- a bank of Smartro's code table
    account      text NOT NULL,                     -- as the merchant gave it; masked in the API
    holder       text NOT NULL,
    reference    text,                              -- the merchant's own reference of the transfer
    recorded_by  text NOT NULL,                     -- the API key's id (a hash prefix, never the key)
    created_at   timestamptz NOT NULL
);
CREATE INDEX refunds_order ON refunds (order_id, created_at, seq);

-- Every operator resolution of a `needs_review` order. A `cancel` is recorded before Smartro is called, with the
-- cancellation it sent; its outcome follows that cancellation's.
CREATE TABLE resolutions (
    id               uuid PRIMARY KEY,
    seq              bigserial NOT NULL,
    order_id         text NOT NULL REFERENCES orders (order_id),
    action           text NOT NULL CHECK (action IN ('accept', 'cancel')),
    reason           text NOT NULL,
    tid              text NOT NULL,                 -- the payment under review
    former_amount    bigint NOT NULL CHECK (former_amount > 0),  -- the order's amount before the resolution
    resolved_by      text NOT NULL,                 -- the API key's id
    outcome          text NOT NULL CHECK (outcome IN ('accepted', 'requested', 'cancelled', 'refused', 'unknown')),
    cancellation_id  uuid REFERENCES cancellations (id),
    created_at       timestamptz NOT NULL,
    completed_at     timestamptz,
    CONSTRAINT cancel_has_cancellation CHECK ((action = 'cancel') = (cancellation_id IS NOT NULL))
);
CREATE INDEX resolutions_order ON resolutions (order_id, created_at, seq);
CREATE UNIQUE INDEX resolutions_cancellation ON resolutions (cancellation_id) WHERE cancellation_id IS NOT NULL;

-- Look-ups: orders by one of their payments' TIDs, and by creation time.
CREATE INDEX payments_tid ON payments (tid);
CREATE INDEX orders_created_at ON orders (created_at);
