//! Planner statistics for young tables.
//!
//! The money path's statements are prepared, and PostgreSQL keeps a generic plan per connection for those it runs
//! often (the result groups force one). A plan made while a table holds a page or two reads it sequentially, and
//! it stays in use until the table's statistics change. Autovacuum refreshes them only after 10 % growth and at
//! most once a minute per database, so a new installation hit by a burst keeps scanning tables that grow by
//! thousands of rows a second: in the load tests, informs ran at a third of their rate for the first minute, and
//! slower with every round, until autovacuum's first ANALYZE. Analyzing a young table whenever it has doubled
//! makes every session plan again with its real size; past [`YOUNG_PAGES`] index probes win on any plan and
//! autovacuum keeps up on its own.

use super::{Store, StoreError};

/// Tables whose statistics were taken below this many pages are looked after here.
pub const YOUNG_PAGES: i32 = 128;

/// Tables larger than this many pages on disk (128 MiB with PostgreSQL's usual 8 KiB pages) are left to autovacuum
/// whatever their statistics say (a database restored without ANALYZE): analyzing one takes long enough to hold up a
/// migration that queues behind it, and autovacuum, unlike this pass, gives way to it.
pub const LARGEST_PAGES: i64 = 16_384;

/// PostgreSQL's `lock_not_available` and `undefined_table`.
const LOCK_NOT_AVAILABLE: &str = "55P03";
const UNDEFINED_TABLE: &str = "42P01";

impl Store {
    /// Analyzes the tables of the gateway's schema whose statistics were taken while they were young and that
    /// have at least doubled since (and grown by eight pages); returns the names of those analyzed.
    ///
    /// - Tables the gateway's role does not own are left to autovacuum: analyzing them would only earn a warning,
    ///   every pass.
    /// - A table another session is analyzing or vacuuming is skipped; the next pass comes back to it. When a
    ///   young table's size cannot even be read (a migration holds it), the pass is empty.
    /// - Each table is analyzed in a transaction of its own, as a plain ANALYZE does: a failure leaves no table with
    ///   its page count updated but its statistics rolled back, and no lock is held longer than its own table's
    ///   analysis.
    pub async fn analyze_young_tables(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let pass = async {
            // For this connection while the pass runs: it waits for no lock for long, and PostgreSQL's notices
            // about tables it skipped stay out of the gateway's log.
            sqlx::query!(
                r#"SELECT set_config('lock_timeout', '100ms', false) AS "lock_timeout!",
                     set_config('client_min_messages', 'error', false) AS "messages!""#
            )
            .fetch_one(&mut *conn)
            .await?;
            let grown = match sqlx::query!(
                r#"SELECT c.oid AS "oid!", format('%I.%I', n.nspname, c.relname) AS "name!",
                     c.relpages AS "pages!"
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relpages < $1
                     AND pg_has_role(c.relowner, 'USAGE')
                     AND pg_relation_size(c.oid) / current_setting('block_size')::bigint
                         BETWEEN 2 * c.relpages + 8 AND $2
                   ORDER BY c.relname"#,
                YOUNG_PAGES,
                LARGEST_PAGES
            )
            .fetch_all(&mut *conn)
            .await
            {
                Ok(grown) => grown,
                Err(e) if failed_with(&e, LOCK_NOT_AVAILABLE) => Vec::new(),
                Err(e) => return Err(e),
            };
            let mut analyzed = Vec::new();
            for table in grown {
                // The name is quoted by PostgreSQL itself (format's %I); not kept as a prepared statement.
                let analyze = format!("ANALYZE (SKIP_LOCKED) {}", table.name);
                match sqlx::query(&analyze)
                    .persistent(false)
                    .execute(&mut *conn)
                    .await
                {
                    Ok(_) => {}
                    // Dropped or renamed meanwhile, or an index locked: the next pass looks again.
                    Err(e)
                        if failed_with(&e, LOCK_NOT_AVAILABLE)
                            || failed_with(&e, UNDEFINED_TABLE) =>
                    {
                        continue
                    }
                    Err(e) => return Err(e),
                }
                // A table skipped still has the page count it had.
                let pages = sqlx::query_scalar!(
                    r#"SELECT relpages AS "pages!" FROM pg_class WHERE oid = $1"#,
                    table.oid
                )
                .fetch_optional(&mut *conn)
                .await?;
                if pages.is_some_and(|pages| pages != table.pages) {
                    analyzed.push(table.name);
                }
            }
            sqlx::query!(
                r#"SELECT set_config(name, reset_val, false) AS "reset!" FROM pg_settings
                   WHERE name IN ('lock_timeout', 'client_min_messages')"#
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(analyzed)
        }
        .await;
        if pass.is_err() {
            // Its settings may still be in force: the connection goes, not back to the pool.
            conn.close_on_drop();
        }
        Ok(pass?)
    }
}

/// Whether PostgreSQL failed the statement with this SQLSTATE.
fn failed_with(e: &sqlx::Error, sqlstate: &str) -> bool {
    e.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == sqlstate)
}
