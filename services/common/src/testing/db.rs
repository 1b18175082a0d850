//! Test databases: a fresh SQLite file, or a fresh PostgreSQL database, per test.
//!
//! PostgreSQL comes from `PROTOMESH_TEST_POSTGRES_URL` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/test`); each test creates its own uniquely named
//! database there and drops it when the [`TestDb`] is dropped. Without the variable a
//! PostgreSQL test prints why it is skipped, except under `CI=true`, where it fails.

use sqlx::{Connection, postgres::PgConnection};
use tempfile::TempDir;

/// The variable naming the PostgreSQL server tests use.
pub const POSTGRES_URL_VAR: &str = "PROTOMESH_TEST_POSTGRES_URL";

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server at [`POSTGRES_URL_VAR`].
    Postgres,
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The engine.
    pub engine: Engine,
    dir: TempDir,
    postgres: Option<PgDatabase>,
    counter: std::sync::atomic::AtomicUsize,
}

/// A PostgreSQL server and the databases a test made on it.
#[derive(Debug)]
struct PgDatabase {
    admin_url: String,
    prefix: String,
    made: std::sync::Mutex<Vec<String>>,
}

impl TestDb {
    /// A place for this test's databases on `engine`, or `None` (after saying why) when the
    /// test must be skipped. Panics under `CI=true` when PostgreSQL is not configured.
    pub async fn new(engine: Engine) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let postgres = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => match std::env::var(POSTGRES_URL_VAR) {
                Ok(url) if !url.is_empty() => Some(PgDatabase {
                    admin_url: url,
                    prefix: format!("shop_test_{}", uuid::Uuid::new_v4().simple()),
                    made: Default::default(),
                }),
                _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                    panic!("CI=true: PostgreSQL tests need {POSTGRES_URL_VAR}")
                }
                _ => {
                    eprintln!("skipped: {POSTGRES_URL_VAR} is not set, so no PostgreSQL test runs");
                    return None;
                }
            },
        };
        Some(TestDb {
            engine,
            dir,
            postgres,
            counter: Default::default(),
        })
    }

    /// The URL of a new, empty database (one per call, so a test can give each service its
    /// own database, as in production).
    pub async fn fresh_url(&self) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &self.postgres {
            None => format!(
                "sqlite:{}",
                self.dir.path().join(format!("db{n}.db")).display()
            ),
            Some(pg) => {
                let name = format!("{}_{n}", pg.prefix);
                let mut conn = PgConnection::connect(&pg.admin_url)
                    .await
                    .expect("connect to the PostgreSQL test server");
                sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create a test database");
                pg.made.lock().expect("lock").push(name.clone());
                with_database(&pg.admin_url, &name)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(pg) = self.postgres.take() else {
            return;
        };
        let names = std::mem::take(&mut *pg.made.lock().unwrap_or_else(|e| e.into_inner()));
        if names.is_empty() {
            return;
        }
        // A fresh runtime on its own thread: drop may run inside the test's runtime.
        let admin = pg.admin_url.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // Each drop waits for the backends it terminates; run them side by side.
            runtime.block_on(async {
                let drops = names.iter().map(|name| {
                    let admin = admin.clone();
                    async move {
                        let mut conn = PgConnection::connect(&admin).await?;
                        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut conn)
                            .await?;
                        Ok::<_, sqlx::Error>(())
                    }
                });
                futures_util::future::try_join_all(drops).await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop the test databases {}_*", pg.prefix);
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs each named `async fn(TestDb)` of the calling module twice, as `sqlite::<name>` and
/// `postgres::<name>`, each with its own [`TestDb`].
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[doc = concat!("`", stringify!($name), "` on a SQLite file.")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::new($crate::testing::Engine::Sqlite)
                        .await
                        .expect("SQLite always runs");
                    super::$name(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[doc = concat!("`", stringify!($name), "` on a fresh PostgreSQL database.")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) =
                        $crate::testing::TestDb::new($crate::testing::Engine::Postgres).await
                    {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database name is swapped, keeping the authority and the query.
    #[test]
    fn swaps_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://h:1/test?sslmode=disable", "x"),
            "postgres://h:1/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
    }
}
