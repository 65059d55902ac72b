-- A console action's audit entry is written before the action runs ('pending') and settled after it: a process
-- that dies in between leaves the entry pending, never an action without its entry.
ALTER TABLE console_audit DROP CONSTRAINT console_audit_outcome_check;
ALTER TABLE console_audit ADD CONSTRAINT console_audit_outcome_check
    CHECK (outcome IN ('pending', 'succeeded', 'refused', 'failed'));
