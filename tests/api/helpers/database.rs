//! A database per test: `samvad_test_<uuid>` on the server named by
//! `SAMVAD_TEST_DATABASE_URL`, dropped when the test ends, even on a panic.

use samvad::db;

/// The MySQL server the tests create their databases on.
pub fn server_url() -> String {
    std::env::var("SAMVAD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database that exists for one test and is dropped with it.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("samvad_test_{}", uuid::Uuid::now_v7().simple());
        let url = format!("{}/{name}", server_url());
        db::create_database_if_missing(&url)
            .await
            .unwrap_or_else(|err| panic!("cannot create a test database: {err:#}"));
        Self { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (server_url(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use sqlx::{Connection, Executor};
                if let Ok(mut conn) = sqlx::MySqlConnection::connect(&server).await {
                    // The app's pool may still hold connections, one of them
                    // in a transaction whose rollback would run on the test's
                    // runtime, which this drop is blocking: DROP DATABASE
                    // would wait for its metadata lock forever. End them.
                    let ids: Vec<i64> = sqlx::query_scalar(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ?",
                    )
                    .bind(&name)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
                    for id in ids {
                        let _ = conn.execute(format!("KILL {id}").as_str()).await;
                    }
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

/// Waits (up to 10 s) until a statement matching `prefix%` (a `LIKE`
/// pattern) is running on this test's database (other tests' databases
/// run the same statements at the same time), and panics with `what` if
/// none does.
pub async fn wait_for_statement(pool: &db::Pool, prefix: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let running: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST
             WHERE DB = DATABASE() AND INFO LIKE CONCAT(?, '%')",
        )
        .bind(prefix)
        .fetch_one(pool)
        .await
        .unwrap();
        if running > 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
