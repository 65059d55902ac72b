-- The gateway's whole state. Money invariants live here, not only in Rust, so that every replica and every
-- code path is held to them.

CREATE TABLE orders (
    order_id          text PRIMARY KEY,                 -- the Moid sent to Smartro
    seq               bigserial NOT NULL UNIQUE,        -- creation order, the pagination cursor
    mid               text NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'awaiting_deposit', 'paid', 'partially_cancelled',
                                                      'cancelled', 'expired', 'needs_review')),
    amount            bigint NOT NULL CHECK (amount > 0),
    paid_amount       bigint NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
    cancelled_amount  bigint NOT NULL DEFAULT 0 CHECK (cancelled_amount >= 0),
    goods_name        text NOT NULL,
    goods_count       integer NOT NULL CHECK (goods_count > 0),
    pay_method        text NOT NULL,
    pay_type          text,                             -- KAKAO: KPCD card / KPMY money
    mall_user_id      text,                             -- the shop's buyer id, required for CLGIFT and easy-pay
    buyer_name        text NOT NULL,
    buyer_tel         text NOT NULL,
    buyer_email       text NOT NULL,
    return_url        text,
    vbank_exp_date    text,                             -- YYYYMMDD, asked of Smartro for VBANK
    tax               bigint CHECK (tax >= 0),
    svc_amt           bigint CHECK (svc_amt >= 0),
    metadata          jsonb,
    checkout_token    text NOT NULL,
    tid               text,                             -- the TID that paid (or issued the vbank account)
    result_code       text,
    result_message    text,
    review_reason     text,
    vbank_bank_code   text,
    vbank_bank_name   text,
    vbank_account     text,
    card_issuer_code  text,
    card_issuer_name  text,
    card_acquirer_code text,
    card_quota        text,
    card_masked_number text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    paid_at           timestamptz,
    expires_at        timestamptz NOT NULL,
    CONSTRAINT paid_within_amount CHECK (paid_amount <= amount),
    CONSTRAINT cancelled_within_paid CHECK (cancelled_amount <= paid_amount)
);
CREATE INDEX orders_status_seq ON orders (status, seq DESC);
CREATE INDEX orders_pending_expiry ON orders (expires_at) WHERE status IN ('pending', 'awaiting_deposit');

-- Every inbound Smartro message, stored raw before it is interpreted (audit, replay, disputes).
CREATE TABLE notifications (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL CHECK (source IN ('return', 'inform')),
    received_at   timestamptz NOT NULL,
    body          bytea NOT NULL,
    headers       jsonb NOT NULL,
    remote_addr   text,
    outcome       text NOT NULL DEFAULT 'received'
                  CHECK (outcome IN ('received', 'applied', 'duplicate', 'malformed', 'unknown_merchant',
                                     'bad_signature', 'unknown_order')),
    detail        text,
    mid           text,
    tid           text,
    order_id      text,
    dedupe_key    text,
    processed_at  timestamptz
);
CREATE INDEX notifications_order ON notifications (order_id);
CREATE INDEX notifications_received ON notifications (received_at);

-- What identifies one Smartro result (TID, StateCd, ResultCode, amount): a result is applied at most once,
-- whichever channel (returnPay or inform) and however many deliveries bring it.
CREATE TABLE applied_results (
    dedupe_key       text PRIMARY KEY,
    order_id         text NOT NULL REFERENCES orders (order_id),
    notification_id  bigint NOT NULL REFERENCES notifications (id),
    applied_at       timestamptz NOT NULL
);

-- One row per TID: approvals, failed attempts, vbank accounts (issued, then deposited).
CREATE TABLE payments (
    tid             text PRIMARY KEY,
    order_id        text NOT NULL REFERENCES orders (order_id),
    mid             text NOT NULL,
    pay_method      text NOT NULL,
    amount          bigint NOT NULL CHECK (amount >= 0),
    result_code     text NOT NULL,
    result_message  text NOT NULL,
    success         boolean NOT NULL,
    auth_code       text,
    auth_date       text,
    source          text NOT NULL CHECK (source IN ('return', 'inform')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX payments_order ON payments (order_id, created_at);

-- Cancellations asked through the API (recorded before Smartro is called) and those Smartro notifies on its own.
CREATE TABLE cancellations (
    id               uuid PRIMARY KEY,
    order_id         text NOT NULL REFERENCES orders (order_id),
    tid              text NOT NULL,                     -- the original TID
    amount           bigint NOT NULL CHECK (amount > 0),
    partial          boolean NOT NULL,
    status           text NOT NULL CHECK (status IN ('requested', 'succeeded', 'failed', 'unknown')),
    origin           text NOT NULL CHECK (origin IN ('api', 'smartro')),
    reason           text NOT NULL,
    result_code      text,
    result_message   text,
    cancel_num       text,
    ptid             text,
    notified         boolean NOT NULL DEFAULT false,    -- Smartro's own notification of it has been matched
    requested_at     timestamptz NOT NULL,
    completed_at     timestamptz
);
CREATE INDEX cancellations_order ON cancellations (order_id, requested_at);
-- While one cancellation's outcome is open, no other may be sent for the same order.
CREATE UNIQUE INDEX cancellations_one_open_per_order ON cancellations (order_id)
    WHERE status IN ('requested', 'unknown');
CREATE UNIQUE INDEX cancellations_ptid ON cancellations (ptid) WHERE ptid IS NOT NULL;

-- Transactional outbox: written in the same transaction as the state change it reports.
CREATE TABLE outbox_events (
    id               text PRIMARY KEY,                  -- evt_…, the same on every delivery attempt
    seq              bigserial NOT NULL UNIQUE,
    order_id         text NOT NULL REFERENCES orders (order_id),
    event_type       text NOT NULL,
    payload          jsonb NOT NULL,                    -- the exact body delivered to the shop
    created_at       timestamptz NOT NULL,
    delivery_status  text NOT NULL DEFAULT 'pending'
                     CHECK (delivery_status IN ('pending', 'delivered', 'failed', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    leased_until     timestamptz,
    delivered_at     timestamptz,
    last_error       text
);
CREATE INDEX outbox_due ON outbox_events (next_attempt_at) WHERE delivery_status = 'pending';
CREATE INDEX outbox_order ON outbox_events (order_id, seq);

-- Idempotency-Key: the first request's response is kept and replayed for the same key and body.
CREATE TABLE idempotency_keys (
    api_key_id       text NOT NULL,                     -- which secret key used it (a hash, never the key)
    scope            text NOT NULL,                     -- the operation, e.g. "create_order", "cancel:<order_id>"
    idempotency_key  text NOT NULL,
    request_hash     text NOT NULL,
    response_status  integer,                           -- null while the first request is in progress
    response_body    jsonb,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, scope, idempotency_key)
);
