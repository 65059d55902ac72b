-- The money path in fewer round trips (issue 12). A confirmed result is applied in one transaction of three
-- statements: this function (lock the order, bind the TID, read what the decision needs), one statement that writes
-- the decision (raw message with its outcome, applied_results claim, order, payment, outbox), and COMMIT.

-- Locks the order row, binds `p_tid` to it (unless bound already) and returns, read after the lock was granted:
-- the order with its payments, cancellations, refunds, resolutions and terminal transactions (as store::orders
-- load_record reads them), the order `p_tid` and `p_other_tid` are bound to, and whether `p_dedupe_key` was applied.
-- No row: there is no such order (and nothing was locked or bound).
--
-- PL/pgSQL runs each statement of a VOLATILE function on a snapshot of its own, so under READ COMMITTED the read
-- below sees every transaction committed before the lock was granted (the lock is taken by a statement of its
-- own, as load_record does), and the bound owner of a TID another transaction bound meanwhile (INSERT ... ON
-- CONFLICT waits for that transaction, and the SELECT after it sees its row).
CREATE FUNCTION lock_result_order(p_order_id text, p_provider text, p_tid text, p_other_tid text,
                                  p_dedupe_key text, p_now timestamptz)
RETURNS TABLE (order_row json, payments json, cancellations json, refunds json, resolutions json, terminal json,
               tid_owner text, other_tid_owner text, applied boolean)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM orders WHERE order_id = p_order_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO tid_bindings (provider, tid, order_id, bound_at) VALUES (p_provider, p_tid, p_order_id, p_now)
        ON CONFLICT (provider, tid) DO NOTHING;
    RETURN QUERY
    SELECT row_to_json(o),
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
        (SELECT b.order_id FROM tid_bindings b WHERE b.provider = p_provider AND b.tid = p_tid),
        (SELECT b.order_id FROM tid_bindings b WHERE b.provider = p_provider AND b.tid = p_other_tid),
        EXISTS (SELECT 1 FROM applied_results a WHERE a.dedupe_key = p_dedupe_key)
    FROM orders o WHERE o.order_id = p_order_id;
END
$$;
