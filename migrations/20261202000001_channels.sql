-- More than one channel: orders say where they are paid, payments and bound TIDs say which provider's they are,
-- and the sources of results admit the in-store terminal.

ALTER TABLE orders ADD COLUMN channel text NOT NULL DEFAULT 'online'
    CHECK (channel IN ('online', 'terminal'));

-- A TID is unique within its provider's numbering only.
ALTER TABLE payments ADD COLUMN provider text NOT NULL DEFAULT 'weblink'
    CHECK (provider IN ('weblink', 'terminal'));
ALTER TABLE payments DROP CONSTRAINT payments_pkey;
ALTER TABLE payments ADD PRIMARY KEY (provider, tid);
ALTER TABLE payments DROP CONSTRAINT payments_source_check;
ALTER TABLE payments ADD CONSTRAINT payments_source_check CHECK (source IN ('return', 'inform', 'terminal'));

ALTER TABLE tid_bindings ADD COLUMN provider text NOT NULL DEFAULT 'weblink'
    CHECK (provider IN ('weblink', 'terminal'));
ALTER TABLE tid_bindings DROP CONSTRAINT tid_bindings_pkey;
ALTER TABLE tid_bindings ADD PRIMARY KEY (provider, tid);

ALTER TABLE notifications DROP CONSTRAINT notifications_source_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_source_check
    CHECK (source IN ('return', 'inform', 'terminal'));

ALTER TABLE cancellations ADD COLUMN provider text NOT NULL DEFAULT 'weblink'
    CHECK (provider IN ('weblink', 'terminal'));
DROP INDEX cancellations_ptid;
CREATE UNIQUE INDEX cancellations_ptid ON cancellations (provider, ptid) WHERE ptid IS NOT NULL;
