//! The test harness: a fresh MySQL database per test, the real app on port
//! 0, and a small HTTP client that speaks the envelope.
//!
//! `TestApp::spawn()` creates `samvad_test_<uuid>` on the server named by
//! `SAMVAD_TEST_DATABASE_URL` (default `mysql://root@127.0.0.1:3306`),
//! migrates it, serves the app, and drops the database when the test ends,
//! even when it panics. Nothing waits with sleeps: the listener is bound
//! before the server task starts. `database`: the database per test.
//! `response`: a response as tests read it, and the error envelope.

pub mod clamd;
mod database;
pub mod push;
pub mod redis;
mod response;
pub mod s3;
mod serve;
pub mod webhooks;

use std::{sync::OnceLock, time::Duration};

use reqwest::Method;
use samvad::{
    app,
    config::Config,
    db,
    domain::{
        Core,
        participant::{ParticipantInput, ParticipantType},
        tenant::NewTenant,
        values::{Email, Name, Password, Slug},
    },
    state::AppState,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub use self::{
    database::{TestDb, server_url, wait_for_statement},
    response::{Res, assert_envelope},
    serve::listening,
};

/// The password of every account the harness creates.
pub const PASSWORD: &str = "test-password-1";

/// A tenant the harness created, with its admin.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: uuid::Uuid,
    pub slug: String,
    pub admin_id: uuid::Uuid,
    pub admin_email: String,
}

/// A logged-in participant or superadmin.
#[derive(Debug, Clone)]
pub struct Login {
    pub id: uuid::Uuid,
    pub access: String,
    pub refresh: String,
}

/// The app under test.
pub struct TestApp {
    pub base: String,
    pub core: Core,
    pub state: AppState,
    /// The test's own handle on the pool it made for the server, for
    /// checks and set-ups in SQL (the core does not hand its pool out).
    pub pool: samvad::db::Pool,
    config: Config,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the server must stop before its database goes.
    _db: Option<TestDb>,
}

fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            samvad::telemetry::init(samvad::config::LogFormat::Text, false);
        }
    });
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns the app after `configure` adjusts the test configuration.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        init_logs();
        let db = TestDb::create().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config::for_tests(&db.url);
        // Five shared, and the two writers' own.
        config.db_max_connections = 7;
        config.public_url = base.clone();
        configure(&mut config);
        Self::start(db, config, listener).await
    }

    /// Stops the server and starts a new process-like instance on the same
    /// database and configuration (a restart).
    pub async fn restart(mut self) -> Self {
        let db = self.take_db();
        let config = self.config.clone();
        self.stop_in_place().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut config = config;
        config.public_url = format!("http://{}", listener.local_addr().unwrap());
        Self::start(db, config, listener).await
    }

    /// Another node of the same deployment: the same database and
    /// configuration (Redis included), its own port. The first node keeps
    /// the database; stop this one first.
    pub async fn another_node(&self) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut config = self.config.clone();
        config.public_url = format!("http://{}", listener.local_addr().unwrap());
        let node = Self::start_on(&self.db_url(), None, config, listener).await;
        // Served once its start-up (Redis, shared state) is done: the
        // request waits in the listener's queue until then.
        let ready = node
            .raw(Method::GET, "/health")
            .send()
            .await
            .expect("the node answers");
        assert!(ready.status().is_success(), "the node is not healthy");
        node
    }

    async fn start(db: TestDb, config: Config, listener: tokio::net::TcpListener) -> Self {
        let url = db.url.clone();
        Self::start_on(&url, Some(db), config, listener).await
    }

    async fn start_on(
        url: &str,
        db: Option<TestDb>,
        config: Config,
        listener: tokio::net::TcpListener,
    ) -> Self {
        let base = config.public_url.clone();
        let pool = db::prepare(url, config.pool_connections())
            .await
            .expect("database");
        let state = AppState::new(config.clone(), pool.clone())
            .await
            .expect("app state");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app::run(state.clone(), listener, async {
            let _ = rx.await;
        }));
        Self {
            base,
            core: state.core.clone(),
            state,
            pool,
            config,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            server: Some(server),
            _db: db,
        }
    }

    /// The test database's URL, for a connection of the test's own (one
    /// that outlives the server's pool).
    pub fn db_url(&self) -> String {
        self._db.as_ref().expect("the test database").url.clone()
    }

    fn take_db(&mut self) -> TestDb {
        self._db.take().expect("the test database")
    }

    async fn stop_in_place(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.stop_in_place().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Sends a prepared request and reads the JSON body.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Res {
        let response = request.send().await.expect("HTTP request");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            body,
        }
    }

    /// A raw request builder for unusual requests (bad bodies, headers).
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str, token: &str) -> Res {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Res {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Changes a tenant's settings as its `admin`; returns them, changed.
    pub async fn settings(&self, admin: &Login, patch: Value) -> Value {
        self.patch("/api/settings", &admin.access, patch)
            .await
            .data()
            .clone()
    }

    /// Creates a tenant (through the core) whose admin's password is [`PASSWORD`].
    pub async fn tenant(&self, slug: &str) -> TestTenant {
        let admin_email = format!("admin@{slug}.test");
        let (tenant, admin) = self
            .core
            .create_tenant(
                None,
                NewTenant {
                    slug: Slug::parse(slug).unwrap(),
                    name: Name::parse(&format!("Tenant {slug}")).unwrap(),
                    admin_email: Email::parse(&admin_email).unwrap(),
                    admin_password: Password::parse(PASSWORD).unwrap(),
                    admin_name: None,
                },
            )
            .await
            .expect("create tenant");
        TestTenant {
            id: tenant.id.0,
            slug: tenant.slug,
            admin_id: admin.id.0,
            admin_email,
        }
    }

    /// Creates a participant with an email and [`PASSWORD`]; returns its id.
    pub async fn participant(
        &self,
        tenant: &TestTenant,
        kind: ParticipantType,
        name: &str,
    ) -> (uuid::Uuid, String) {
        let email = format!(
            "{}@{}.test",
            name.to_lowercase().replace(' ', "."),
            tenant.slug
        );
        let created = self
            .core
            .create_participant(
                None,
                samvad::domain::TenantId(tenant.id),
                ParticipantInput {
                    kind,
                    name: Name::parse(name).unwrap(),
                    email: Some(Email::parse(&email).unwrap()),
                    phone: None,
                    password: Some(Password::parse(PASSWORD).unwrap()),
                    legacy_id: None,
                },
            )
            .await
            .expect("create participant");
        (created.id.0, email)
    }

    /// Logs a participant in by email.
    pub async fn login(&self, tenant: &TestTenant, email: &str) -> Login {
        let res = self
            .post(
                "/api/auth/login",
                None,
                json!({ "tenant": tenant.slug, "email": email, "password": PASSWORD }),
            )
            .await;
        let data = res.data();
        Login {
            id: data["user"]["id"].as_str().unwrap().parse().unwrap(),
            access: data["accessToken"].as_str().unwrap().to_owned(),
            refresh: data["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// Logs the tenant's admin in.
    pub async fn login_admin(&self, tenant: &TestTenant) -> Login {
        self.login(tenant, &tenant.admin_email).await
    }

    /// Creates a participant and logs them in.
    pub async fn participant_login(
        &self,
        tenant: &TestTenant,
        kind: ParticipantType,
        name: &str,
    ) -> Login {
        let (_, email) = self.participant(tenant, kind, name).await;
        self.login(tenant, &email).await
    }

    /// Creates the superadmin `root@platform.test` and logs in.
    pub async fn superadmin(&self) -> Login {
        let email = "root@platform.test";
        self.core
            .create_superadmin(
                Email::parse(email).unwrap(),
                &Password::parse(PASSWORD).unwrap(),
            )
            .await
            .expect("create superadmin");
        let res = self
            .post(
                "/api/platform/login",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        let data = res.data();
        Login {
            id: data["superadmin"]["id"].as_str().unwrap().parse().unwrap(),
            access: data["accessToken"].as_str().unwrap().to_owned(),
            refresh: data["refreshToken"].as_str().unwrap().to_owned(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.state.config.data_dir);
    }
}

/// Polls `check` every 20 ms until it holds (the worker or node under test
/// runs beside the test); fails, saying `what`, after `limit`.
pub async fn within(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within {limit:?}");
}
