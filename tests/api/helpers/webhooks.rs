//! A webhook receiver: `tests/e2e/lib/webhook-receiver.mjs`, a Node HTTP
//! server that checks every delivery with the official `standardwebhooks`
//! library (installed by `npm ci` in `tests/e2e`) and answers as planned.
//! Started per test on a free port; killed when dropped.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// A running receiver.
pub struct Receiver {
    base: String,
    client: reqwest::Client,
    _child: Child,
}

impl Receiver {
    /// Starts one and waits until it takes connections.
    pub async fn start() -> Self {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/lib/webhook-receiver.mjs"
        );
        let mut child = Command::new("node")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the webhook receiver (npm ci in tests/e2e)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next_line()
            .await
            .unwrap()
            .expect("the receiver says where it listens");
        let port = first
            .strip_prefix("listening ")
            .expect("`listening <port>`")
            .to_owned();
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _child: child,
        }
    }

    /// An address deliveries may go to (`path` tells endpoints apart).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The secret deliveries are verified with.
    pub async fn set_secret(&self, secret: &str) {
        self.control("/_secret", json!({ "secret": secret })).await;
    }

    /// How the next deliveries are answered, in order (then 200).
    pub async fn plan(&self, statuses: &[u16]) {
        self.control("/_plan", json!({ "statuses": statuses }))
            .await;
    }

    /// What came so far, in order: `{path, id, timestamp, verified, error,
    /// payload, answered}` each.
    pub async fn received(&self) -> Vec<Value> {
        self.client
            .get(format!("{}/_received", self.base))
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
    }

    /// What came of type `kind`.
    pub async fn of_type(&self, kind: &str) -> Vec<Value> {
        self.received()
            .await
            .into_iter()
            .filter(|r| r["payload"]["type"] == kind)
            .collect()
    }

    async fn control(&self, path: &str, body: Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
}
