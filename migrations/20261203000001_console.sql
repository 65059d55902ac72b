-- The operator console: sessions, sign-in failures (throttling shared by every replica) and the audit log.

-- A signed-in operator. The cookie holds a random token; only its SHA-256 is stored, so a copy of this table
-- signs nobody in.
CREATE TABLE console_sessions (
    token_sha256   bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    operator       text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    signed_out_at  timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- One failed sign-in: counted per name and per client address over a window to slow guessing down.
CREATE TABLE console_sign_in_failures (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    client_addr  text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX console_sign_in_failures_name ON console_sign_in_failures (name, at);
CREATE INDEX console_sign_in_failures_addr ON console_sign_in_failures (client_addr, at);

-- What operators did through the console, and how it went.
CREATE TABLE console_audit (
    id         bigserial PRIMARY KEY,
    operator   text NOT NULL,
    action     text NOT NULL CHECK (action IN ('sign_in', 'sign_out', 'cancel', 'refund', 'resolve', 'redeliver')),
    order_id   text,
    at         timestamptz NOT NULL,
    outcome    text NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'failed')),
    detail     text NOT NULL
);
CREATE INDEX console_audit_order ON console_audit (order_id, id) WHERE order_id IS NOT NULL;
