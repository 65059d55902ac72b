-- A refund the merchant names with its own reference (its transfer's) is one transfer: recording it twice, e.g. a
-- retry without an Idempotency-Key, would count the money twice.
CREATE UNIQUE INDEX refunds_reference ON refunds (order_id, reference) WHERE reference IS NOT NULL;
