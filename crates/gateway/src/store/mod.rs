//! PostgreSQL access, one module per table group. Every state change commits together with its outbox event.

pub mod cancellations;
pub mod console;
pub mod delivery;
pub mod expiry;
pub mod idempotency;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod refunds;
pub mod resolutions;
pub mod results;
pub mod statistics;
pub mod tax_refunds;
pub mod terminal;

use sqlx::PgPool;

pub use orders::{
    CancellationRow, CheckoutRow, KeyedOrder, NewOrder, OrderFilter, OrderRecord, OrderRow,
    PaymentRow,
};
pub use outbox::Render;
pub use refunds::RefundRow;
pub use resolutions::ResolutionRow;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database could not be reached or used at all (as opposed to a query that was refused).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(e) if is_outage(e))
    }
}

/// Whether an sqlx error means the database is unreachable, starting, or shutting down (worth a retry later),
/// rather than that it refused what was asked.
pub fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

/// The provider online payments (Smartro WEBLink) and their TIDs are recorded under; the terminal channel will
/// record its own.
pub(crate) const WEBLINK: &str = "weblink";

/// The gateway's database.
#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Store { pool }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Whether every embedded migration has been applied to the database.
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, StoreError> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?;
    Ok(MIGRATOR
        .iter()
        .all(|m| applied.binary_search(&m.version).is_ok()))
}
