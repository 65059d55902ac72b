-- Result trust. SignValue covers only the TID and the ResultCode, so a signed result proves that Smartro made a
-- transaction, not which order it paid. A result now changes an order only once it is confirmed server to server;
-- until then it is kept `unconfirmed` (and re-checked), and one that contradicts Smartro's records is `refuted`.

-- A TID belongs to one order forever: claimed in the same transaction that changes the order, before anything of
-- the order is written, so a result replayed onto another order finds the TID taken.
CREATE TABLE tid_bindings (
    tid        text PRIMARY KEY,
    order_id   text NOT NULL REFERENCES orders (order_id),
    bound_at   timestamptz NOT NULL
);
INSERT INTO tid_bindings (tid, order_id, bound_at)
    SELECT tid, order_id, created_at FROM payments
    ON CONFLICT (tid) DO NOTHING;
INSERT INTO tid_bindings (tid, order_id, bound_at)
    SELECT ptid, order_id, requested_at FROM cancellations WHERE ptid IS NOT NULL
    ON CONFLICT (tid) DO NOTHING;

ALTER TABLE notifications DROP CONSTRAINT notifications_outcome_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_outcome_check
    CHECK (outcome IN ('received', 'applied', 'duplicate', 'malformed', 'unknown_merchant', 'bad_signature',
                       'unknown_order', 'unconfirmed', 'refuted'));
-- How an applied result was confirmed: Smartro's receipt data API, an allow-listed notification server, or (for a
-- returnPay) an earlier confirmed result with the same TID, OID and amount.
ALTER TABLE notifications ADD COLUMN confirmed_by text
    CHECK (confirmed_by IN ('receipt_api', 'notifier', 'earlier_result'));
-- An unconfirmed result is asked about again at this time; NULL once settled or given up.
ALTER TABLE notifications ADD COLUMN next_check_at timestamptz;
ALTER TABLE notifications ADD COLUMN check_attempts integer NOT NULL DEFAULT 0;
-- The handle of the buyer's "결제 확인 중" page on its own returnPay (random; shows the result once confirmed).
ALTER TABLE notifications ADD COLUMN follow_token text;

CREATE INDEX notifications_unconfirmed_due ON notifications (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE UNIQUE INDEX notifications_follow_token ON notifications (follow_token) WHERE follow_token IS NOT NULL;
-- Bodies never applied and never to be (anyone can send them) are kept only `workers.rejected_retention_days`.
CREATE INDEX notifications_rejected ON notifications (received_at)
    WHERE outcome IN ('malformed', 'unknown_merchant', 'bad_signature', 'unknown_order', 'refuted');
CREATE INDEX notifications_dedupe_unconfirmed ON notifications (dedupe_key) WHERE outcome = 'unconfirmed';
