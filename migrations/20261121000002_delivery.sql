-- Webhook delivery: which replica holds an event, the window it is retried in, and every attempt.
ALTER TABLE outbox_events ADD COLUMN leased_by text;
-- Retries stop after the configured window counted from here; a redelivery asked by an operator restarts it.
ALTER TABLE outbox_events ADD COLUMN window_started_at timestamptz;
UPDATE outbox_events SET window_started_at = created_at;
ALTER TABLE outbox_events ALTER COLUMN window_started_at SET NOT NULL;

CREATE INDEX outbox_events_type ON outbox_events (event_type, seq DESC);

CREATE TABLE webhook_attempts (
    id            bigserial PRIMARY KEY,
    event_id      text NOT NULL REFERENCES outbox_events (id),
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    latency_ms    integer NOT NULL CHECK (latency_ms >= 0),
    error         text,
    worker        text NOT NULL
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, id);

-- Cancellations whose outcome is open, for the reconciliation worker.
CREATE INDEX cancellations_open ON cancellations (requested_at) WHERE status IN ('requested', 'unknown');

-- Cancellations are listed in the order they were asked, even when asked within the same instant.
ALTER TABLE cancellations ADD COLUMN seq bigserial NOT NULL;
