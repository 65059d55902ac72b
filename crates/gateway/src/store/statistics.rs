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

impl Store {
    /// Analyzes the tables of the gateway's schema whose statistics were taken while they were young and that
    /// have at least doubled since (and grown by eight pages); returns their names. Tables another session is
    /// analyzing or vacuuming are skipped (the next pass comes back to them), and tables the gateway's role does not
    /// own are left to autovacuum: analyzing them would only earn a warning, every pass.
    pub async fn analyze_young_tables(&self) -> Result<Vec<String>, StoreError> {
        let grown = sqlx::query_scalar!(
            r#"SELECT format('%I.%I', n.nspname, c.relname) AS "name!"
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relpages < $1
                 AND pg_has_role(c.relowner, 'USAGE')
                 AND pg_relation_size(c.oid) >= (2 * c.relpages + 8) * current_setting('block_size')::bigint
               ORDER BY c.relname"#,
            YOUNG_PAGES
        )
        .fetch_all(&self.pool)
        .await?;
        if !grown.is_empty() {
            // The names are quoted by PostgreSQL itself (format's %I).
            sqlx::raw_sql(&format!("ANALYZE (SKIP_LOCKED) {}", grown.join(", ")))
                .execute(&self.pool)
                .await?;
        }
        Ok(grown)
    }
}
