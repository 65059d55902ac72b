-- Results from an allow-listed notifier are applied in groups (issue 12): the informs that arrive while the
-- previous group commits share one transaction and one commit, and each statement writes the rows of all of them.
-- Each result keeps its own decision; a group is all or nothing, and a group that cannot be written whole is rolled
-- back and its results take the general path one by one.

-- Locks the orders of a group that no other transaction holds and returns, for the orders it locked, read after
-- the locks were granted: each order with its payments, cancellations, refunds, resolutions and terminal
-- transactions (as store::orders load_record reads them), the orders its TID and original TID are bound to now, and
-- whether its dedupe key was applied. `idx` is the position (from 1) in the arrays given; an order that does not
-- exist, or was not locked, has no row.
--
-- SKIP LOCKED: a group never waits for an order, so one order held elsewhere (a cancel in progress, a session that
-- hangs) cannot stall the results of other orders; the caller leaves a result whose order was not locked to the
-- general path, which waits for it alone. Nothing is bound here: the statement that writes the group binds the
-- TIDs of the results it writes, and a TID bound meanwhile to another order makes that statement write less than
-- it must, so that the group is rolled back.
--
-- PL/pgSQL runs each statement of a VOLATILE function on a snapshot of its own, so under READ COMMITTED the read
-- below sees every transaction committed before the last lock was granted.
CREATE FUNCTION lock_result_orders(p_order_ids text[], p_provider text, p_tids text[], p_other_tids text[],
                                   p_dedupe_keys text[])
RETURNS TABLE (idx integer, order_row json, payments json, cancellations json, refunds json, resolutions json,
               terminal json, tid_owner text, other_tid_owner text, applied boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked text[];
BEGIN
    -- Only the rows locked here are read below: an order committed between the two statements was not locked.
    locked := ARRAY(SELECT order_id FROM orders WHERE order_id = ANY (p_order_ids) ORDER BY order_id
                    FOR UPDATE SKIP LOCKED);
    RETURN QUERY
    SELECT u.i::integer, row_to_json(o),
        COALESCE((SELECT json_agg(p ORDER BY p.created_at, p.tid) FROM payments p
                  WHERE p.order_id = o.order_id), '[]'),
        COALESCE((SELECT json_agg(c ORDER BY c.requested_at, c.seq) FROM cancellations c
                  WHERE c.order_id = o.order_id), '[]'),
        COALESCE((SELECT json_agg(r ORDER BY r.created_at, r.seq) FROM refunds r
                  WHERE r.order_id = o.order_id), '[]'),
        COALESCE((SELECT json_agg(v ORDER BY v.created_at, v.seq) FROM resolutions v
                  WHERE v.order_id = o.order_id), '[]'),
        COALESCE((SELECT json_agg(t ORDER BY t.created_at, t.id) FROM terminal_transactions t
                  WHERE t.order_id = o.order_id), '[]'),
        (SELECT b.order_id FROM tid_bindings b WHERE b.provider = p_provider AND b.tid = u.tid),
        (SELECT b.order_id FROM tid_bindings b WHERE b.provider = p_provider AND b.tid = u.other_tid),
        EXISTS (SELECT 1 FROM applied_results a WHERE a.dedupe_key = u.dedupe_key)
    FROM unnest(p_order_ids, p_tids, p_other_tids, p_dedupe_keys) WITH ORDINALITY AS u(order_id, tid, other_tid,
                                                                                       dedupe_key, i)
    JOIN orders o ON o.order_id = u.order_id
    WHERE u.order_id = ANY (locked)
    ORDER BY u.i;
END
$$;

-- The one-result version is replaced by the group's.
DROP FUNCTION lock_result_order(text, text, text, text, text, timestamptz);
