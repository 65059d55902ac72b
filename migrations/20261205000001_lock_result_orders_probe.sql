-- lock_result_orders: whether a result's dedupe key was applied is asked as a scalar subquery (one probe of
-- applied_results' primary key per result), not as EXISTS. PostgreSQL may run an EXISTS as a hashed subplan that
-- reads the whole table once per call; in a generic plan made while applied_results was small (a new database,
-- before autovacuum's first ANALYZE, which can lag far behind under load) it did so for every group, and the cost
-- per inform grew with every inform ever applied (1,500 → 750 informs/s in three 6 s rounds). Otherwise unchanged.
CREATE OR REPLACE FUNCTION lock_result_orders(p_order_ids text[], p_provider text, p_tids text[], p_other_tids text[],
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
        (SELECT true FROM applied_results a WHERE a.dedupe_key = u.dedupe_key) IS NOT NULL
    FROM unnest(p_order_ids, p_tids, p_other_tids, p_dedupe_keys) WITH ORDINALITY AS u(order_id, tid, other_tid,
                                                                                       dedupe_key, i)
    JOIN orders o ON o.order_id = u.order_id
    WHERE u.order_id = ANY (locked)
    ORDER BY u.i;
END
$$;
