//! Nodes of a deployment as `samvad serve` processes of this build, for
//! the cluster suite (`tests/e2e.rs`).

use std::{process::Stdio, time::Duration};

use tokio::process::Command;

use crate::helpers::TestApp;

/// Another node of `app`'s deployment, as its own `samvad serve` process
/// (this build's binary) on a free port: the same database, Redis and
/// secrets. Killed when dropped.
pub struct NodeProcess {
    pub base: String,
    _child: tokio::process::Child,
    _data: tempfile::TempDir,
}

impl NodeProcess {
    pub async fn start(app: &TestApp, jwt_secret: &str) -> Self {
        let config = &app.state.config;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let data = tempfile::tempdir().expect("a data directory");
        let mut command = Command::new(env!("CARGO_BIN_EXE_samvad"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", app.db_url())
            .env("SAMVAD_BIND", format!("127.0.0.1:{port}"))
            .env("SAMVAD_PUBLIC_URL", &base)
            .env("SAMVAD_DATA_DIR", data.path())
            .env("SAMVAD_JWT_SECRET", jwt_secret)
            .env("SAMVAD_PRESENCE_GRACE", "1")
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in [
            ("REDIS_URL", config.redis_url.as_ref().map(|s| s.expose())),
            ("SAMVAD_REDIS_PREFIX", Some(config.redis_prefix.as_str())),
            (
                "SAMVAD_DATA_KEY",
                config.data_key.as_ref().map(|s| s.expose()),
            ),
        ] {
            if let Some(value) = value {
                command.env(name, value);
            }
        }
        let mut child = command.spawn().expect("start a samvad serve process");
        let client = reqwest::Client::new();
        let health = format!("{base}/health");
        let started = std::time::Instant::now();
        loop {
            if let Ok(answer) = client.get(&health).send().await
                && answer.status().is_success()
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the node process at {base} exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the node process at {base} did not answer /health within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            base,
            _child: child,
            _data: data,
        }
    }
}
