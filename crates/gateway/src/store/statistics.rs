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

/// Tables larger than this on disk are left to autovacuum whatever their statistics say (a database restored
/// without ANALYZE): analyzing one takes long enough to hold up a migration that queues behind it, and autovacuum,
/// unlike this pass, gives way to it.
pub const LARGEST_PAGES: i64 = 16_384;

impl Store {
    /// Analyzes the tables of the gateway's schema whose statistics were taken while they were young and that
    /// have at least doubled since (and grown by eight pages); returns the names of those analyzed.
    ///
    /// - Tables the gateway's role does not own are left to autovacuum: analyzing them would only earn a warning,
    ///   every pass.
    /// - A table another session is analyzing or vacuuming is skipped quietly; the next pass comes back to it.
    /// - The pass waits for no lock for long: a table locked by a migration is for the next pass too.
    pub async fn analyze_young_tables(&self) -> Result<Vec<String>, StoreError> {
        let mut tx = self
            .pool
            .begin_with(
                "BEGIN; SET LOCAL client_min_messages = error; SET LOCAL lock_timeout = '100ms'",
            )
            .await?;
        let grown = sqlx::query!(
            r#"SELECT format('%I.%I', n.nspname, c.relname) AS "name!", c.relpages AS "pages!"
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relpages < $1
                 AND pg_has_role(c.relowner, 'USAGE')
                 AND pg_relation_size(c.oid) / current_setting('block_size')::bigint
                     BETWEEN 2 * c.relpages + 8 AND $2
               ORDER BY c.relname"#,
            YOUNG_PAGES,
            LARGEST_PAGES
        )
        .fetch_all(&mut *tx)
        .await?;
        if grown.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = grown.iter().map(|t| t.name.clone()).collect();
        // The names are quoted by PostgreSQL itself (format's %I).
        // Not kept as a prepared statement: the list differs from pass to pass.
        sqlx::query(&format!("ANALYZE (SKIP_LOCKED) {}", names.join(", ")))
            .persistent(false)
            .execute(&mut *tx)
            .await?;
        // Those skipped still have the statistics they had.
        let now = sqlx::query!(
            r#"SELECT t.name AS "name!", c.relpages AS "pages!"
               FROM unnest($1::text[]) AS t(name) JOIN pg_class c ON c.oid = t.name::regclass"#,
            &names
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(grown
            .into_iter()
            .filter(|before| {
                now.iter()
                    .any(|after| after.name == before.name && after.pages != before.pages)
            })
            .map(|t| t.name)
            .collect())
    }
}
