-- A session belongs to the operator's password as configured when it was signed in (the SHA-256 of its hash): a
-- changed password, or an operator removed from the configuration, ends it. Sessions from before have none and end.
ALTER TABLE console_sessions ADD COLUMN credential bytea;
