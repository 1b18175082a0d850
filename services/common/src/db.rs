//! The database handle every shop service uses: one sqlx `Any` pool, so one code path serves
//! SQLite (the single-machine default) and PostgreSQL (by URL).
//!
//! Queries use `$1`-style placeholders, which both engines accept, and only the types the
//! `Any` driver carries on both (`i64`, `String`); times are `i64` microseconds.
//!
//! SQLite runs in WAL mode with `synchronous = FULL`: every commit fsyncs the write-ahead log
//! before it returns, so a write acknowledged to a client survives a crash of the process and
//! of the machine (NORMAL with WAL would survive a process crash but may lose the last commits
//! on power loss; the shop's write rate is far below what one fsync per commit allows).

use std::{path::Path, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::{MigrateError, Migrator},
};

/// The default size of a service's connection pool.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// How long acquiring a pooled connection may take before the call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A failure to open or migrate a database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL {0:?}: expected sqlite:PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The folder of a SQLite file could not be created.
    #[error("creating the folder of the SQLite file {path}")]
    CreateDir {
        /// The folder.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("connecting to the database")]
    Connect(#[source] sqlx::Error),
    /// Running the embedded migrations failed.
    #[error("migrating the database")]
    Migrate(#[source] MigrateError),
}

/// The database engine behind a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A migrated database: a cheap, clonable handle to the pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
}

impl Db {
    /// Opens the database at `url` (`sqlite:data/catalog.db`, `sqlite://data/catalog.db` or
    /// `postgres://user@host:5432/db`), creating a SQLite file and its folder when missing,
    /// then runs `migrator`.
    pub async fn open(url: &str, max_connections: u32, migrator: &Migrator) -> Result<Db, DbError> {
        install_default_drivers();
        let (engine, url) = normalize(url)?;
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT);
        if engine == Engine::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(sqlite_pragmas().as_str()).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await.map_err(DbError::Connect)?;
        // Two replicas starting on one SQLite file can race to apply the same migration; the
        // loser fails once and then finds the migration applied.
        if let Err(first) = migrator.run(&pool).await {
            tracing::warn!(error = %first, "migration failed, retrying once");
            migrator.run(&pool).await.map_err(DbError::Migrate)?;
        }
        Ok(Db { pool, engine })
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine behind the pool.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes every connection, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The pragmas every SQLite connection starts with (see the module docs for why FULL).
fn sqlite_pragmas() -> String {
    format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
    )
}

/// Recognises the engine and, for SQLite, creates the file's folder and asks for the file to
/// be created when missing.
fn normalize(url: &str) -> Result<(Engine, String), DbError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Engine::Postgres, url.to_owned()));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(DbError::UnsupportedUrl(url.to_owned()));
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.contains(":memory:") {
        return Err(DbError::UnsupportedUrl(url.to_owned()));
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let query = if query.split('&').any(|kv| kv.starts_with("mode=")) {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok((Engine::Sqlite, format!("sqlite://{path}?{query}")))
}

/// The URL of the SQLite file `name` (such as `catalog.db`) in the folder `dir`.
pub fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite:{}", dir.join(name).display())
}

/// Whether a storage error is a unique-constraint violation (on either engine).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new SQLite database is created with its folder, in WAL mode with synchronous FULL on
    /// every pooled connection, and migrated.
    #[tokio::test]
    async fn sqlite_is_durable_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested/shop.db");
        let migrator = Migrator::new(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/migrations"
        )))
        .await
        .unwrap();
        let db = Db::open(&format!("sqlite:{}", file.display()), 2, &migrator)
            .await
            .unwrap();
        assert_eq!(db.engine(), Engine::Sqlite);
        assert!(file.is_file());
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2), "2 is FULL");
        sqlx::query("INSERT INTO things (id) VALUES ($1)")
            .bind("a")
            .execute(db.pool())
            .await
            .unwrap();
        db.close().await;
        let again = Db::open(&format!("sqlite://{}", file.display()), 1, &migrator)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM things")
            .fetch_one(again.pool())
            .await
            .unwrap();
        assert_eq!(n, 1);
    }

    /// SQLite URLs get `mode=rwc`; PostgreSQL URLs pass unchanged; others are refused.
    #[test]
    fn normalizes_urls() {
        let dir = std::env::temp_dir().join(format!("shop-common-{}", std::process::id()));
        let file = dir.join("x.db");
        let (engine, url) = normalize(&format!("sqlite:{}", file.display())).unwrap();
        assert_eq!(engine, Engine::Sqlite);
        assert_eq!(url, format!("sqlite://{}?mode=rwc", file.display()));
        assert!(dir.is_dir());
        let (_, url) = normalize(&format!("sqlite://{}?mode=ro", file.display())).unwrap();
        assert!(url.ends_with("?mode=ro"));
        assert_eq!(
            sqlite_url(Path::new("data"), "cart.db"),
            "sqlite:data/cart.db"
        );
        let pg = "postgres://postgres@127.0.0.1:5432/test";
        assert_eq!(normalize(pg).unwrap(), (Engine::Postgres, pg.to_owned()));
        assert!(matches!(
            normalize("mysql://x"),
            Err(DbError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            normalize("sqlite::memory:"),
            Err(DbError::UnsupportedUrl(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
