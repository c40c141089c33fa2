//! Fake push providers inside the test process, speaking the real protocols
//! and checking the real signatures: `fcm` (Firebase Cloud Messaging HTTP v1
//! with Google's OAuth 2.0 service-account token exchange) and `apns` (Apple
//! Push Notification service, HTTP/2 with ES256 provider tokens).
//!
//! [`keys()`] is the credentials the app is configured with: one RSA-2048
//! service account and one P-256 `.p8` auth key, generated once per test
//! process. Both fakes bind `127.0.0.1:0` before they serve and record what
//! they answer in a [`Recorder`]; tests await it (a `watch` channel, no
//! sleeps).

pub mod apns;
pub mod fcm;

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Debug,
    sync::{LazyLock, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use jsonwebtoken::DecodingKey;
use poem::{IntoEndpoint, Response, http::StatusCode, listener::TcpAcceptor};
use rsa::{
    pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
    rand_core::{OsRng, RngCore},
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

pub use self::{
    apns::{ApnsPush, FakeApns},
    fcm::{FakeFcm, FcmMessage},
};

/// The Firebase project of the test service account.
pub const PROJECT_ID: &str = "samvad-test";
/// The test service account's `client_email` (the assertion's `iss`).
pub const CLIENT_EMAIL: &str = "push@samvad-test.iam.gserviceaccount.com";
/// The OAuth scope an FCM assertion must ask for.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The `.p8` key's id (the provider token's `kid`).
pub const APNS_KEY_ID: &str = "ABC123DEFG";
/// The Apple developer team (the provider token's `iss`).
pub const APNS_TEAM_ID: &str = "TEAM123456";
/// The app's bundle id: the `apns-topic` (`.voip` appended for VoIP pushes).
pub const APNS_BUNDLE_ID: &str = "com.samvad.test";

/// An FCM service account and an APNs auth key, with their public halves.
pub struct TestKeys {
    rsa_pem: String,
    rsa_key_id: String,
    rsa_public: DecodingKey,
    p256_pem: String,
    p256_public: DecodingKey,
}

/// The process's test credentials (generated on first use).
pub fn keys() -> &'static TestKeys {
    static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::generate);
    &KEYS
}

impl TestKeys {
    /// A fresh set of keys: the process's are [`keys()`]; another set is
    /// for proving that the fakes refuse what those did not sign.
    pub fn generate() -> TestKeys {
        let rsa = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("an RSA-2048 key");
        let rsa_public = rsa
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("the RSA public key as PEM");
        let p256 = p256::SecretKey::random(&mut OsRng);
        let p256_public = p256
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("the P-256 public key as PEM");
        let mut key_id = [0u8; 20];
        OsRng.fill_bytes(&mut key_id);
        TestKeys {
            rsa_pem: rsa
                .to_pkcs8_pem(LineEnding::LF)
                .expect("the RSA key as PKCS#8")
                .to_string(),
            rsa_key_id: key_id.iter().map(|b| format!("{b:02x}")).collect(),
            rsa_public: DecodingKey::from_rsa_pem(rsa_public.as_bytes()).expect("RSA PEM"),
            p256_pem: p256
                .to_pkcs8_pem(LineEnding::LF)
                .expect("the P-256 key as PKCS#8")
                .to_string(),
            p256_public: DecodingKey::from_ec_pem(p256_public.as_bytes()).expect("EC PEM"),
        }
    }

    /// A Google service-account key file, as the Cloud console downloads
    /// it, whose `token_uri` is `token_uri` (a [`FakeFcm::token_uri`]).
    pub fn service_account_json(&self, token_uri: &str) -> String {
        let cert_url = format!(
            "https://www.googleapis.com/robot/v1/metadata/x509/{}",
            CLIENT_EMAIL.replace('@', "%40")
        );
        json!({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": self.rsa_key_id,
            "private_key": self.rsa_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "104387216536284919273",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": cert_url,
            "universe_domain": "googleapis.com",
        })
        .to_string()
    }

    /// The service account's private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub fn service_account_pem(&self) -> &str {
        &self.rsa_pem
    }

    /// The service account's `private_key_id` (an assertion's `kid`).
    pub fn service_account_key_id(&self) -> &str {
        &self.rsa_key_id
    }

    /// The APNs auth key as Apple's `AuthKey_<kid>.p8`: PKCS#8 PEM.
    pub fn apns_p8(&self) -> String {
        self.p256_pem.clone()
    }

    /// Verifies RS256 assertions signed by the service account.
    pub fn fcm_public(&self) -> &DecodingKey {
        &self.rsa_public
    }

    /// Verifies ES256 provider tokens signed by the `.p8` key.
    pub fn apns_public(&self) -> &DecodingKey {
        &self.p256_public
    }
}

/// One request a fake answered for a device token: when, and its status.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: Instant,
    pub status: u16,
}

/// What a fake accepted, in order, and its answers per device token. The
/// fakes deref to theirs: tests call these on the fake (`fcm.count()`).
pub struct Recorder<T> {
    records: Mutex<Records<T>>,
    changed: watch::Sender<()>,
}

struct Records<T> {
    accepted: Vec<T>,
    attempts: HashMap<String, Vec<Attempt>>,
    /// How many `next` has handed out.
    read: usize,
}

impl<T: Clone + Debug> Recorder<T> {
    fn new() -> Self {
        let records = Records {
            accepted: Vec::new(),
            attempts: HashMap::new(),
            read: 0,
        };
        Recorder {
            records: Mutex::new(records),
            changed: watch::channel(()).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Records<T>> {
        lock(&self.records)
    }

    /// Records an answer for `device` (if known) and what it accepted,
    /// then wakes the waiters (not under the lock: they take it).
    fn record(&self, device: &str, status: u16, accepted: Option<T>) {
        {
            let mut records = self.lock();
            if !device.is_empty() {
                let attempt = Attempt {
                    at: Instant::now(),
                    status,
                };
                records
                    .attempts
                    .entry(device.to_owned())
                    .or_default()
                    .push(attempt);
            }
            records.accepted.extend(accepted);
        }
        self.changed.send_replace(());
    }

    /// What was accepted so far, in order.
    pub fn accepted(&self) -> Vec<T> {
        self.lock().accepted.clone()
    }

    /// How many requests were accepted.
    pub fn count(&self) -> usize {
        self.lock().accepted.len()
    }

    /// How many requests for `device` were answered, with any status.
    pub fn attempts(&self, device: &str) -> usize {
        self.lock().attempts.get(device).map_or(0, Vec::len)
    }

    /// Each request for `device`: when, and the status answered.
    pub fn attempt_log(&self, device: &str) -> Vec<Attempt> {
        self.lock()
            .attempts
            .get(device)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until at least `n` requests were accepted; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<T> {
        let what = format!("{n} accepted request(s)");
        self.wait_until(what, timeout, |r| r.accepted.len() >= n)
            .await;
        self.accepted()
    }

    /// The accepted request after the last one this returned, waiting for it.
    pub async fn next(&self, timeout: Duration) -> T {
        let read = self.lock().read;
        self.wait_for(read + 1, timeout).await;
        let mut records = self.lock();
        records.read += 1;
        records.accepted[read].clone()
    }

    /// Waits until `device` has had at least `n` requests answered.
    pub async fn wait_for_attempts(&self, device: &str, n: usize, timeout: Duration) {
        let what = format!("{n} request(s) for {device}");
        let done = |r: &Records<T>| r.attempts.get(device).map_or(0, Vec::len) >= n;
        self.wait_until(what, timeout, done).await;
    }

    /// Waits (on `changed`, no polling) until `done`; else panics saying
    /// what was awaited and what came.
    async fn wait_until(
        &self,
        what: String,
        timeout: Duration,
        done: impl Fn(&Records<T>) -> bool,
    ) {
        let mut changed = self.changed.subscribe();
        let waited = tokio::time::timeout(timeout, changed.wait_for(|_| done(&self.lock())));
        if waited.await.is_err() {
            let records = self.lock();
            let statuses: BTreeMap<_, Vec<u16>> = (records.attempts.iter())
                .map(|(device, log)| (device, log.iter().map(|a| a.status).collect()))
                .collect();
            panic!(
                "a fake push provider expected {what} within {timeout:?}; it answered \
                 {statuses:?} and accepted {:#?}",
                records.accepted
            );
        }
    }
}

/// Binds `127.0.0.1:0`: the listener and its `http://` base URL.
async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a fake push provider");
    let addr = listener.local_addr().expect("the fake's address");
    (listener, format!("http://{addr}"))
}

/// Serves `app` (HTTP/1.1 and h2c) until the task is aborted.
fn spawn<E: IntoEndpoint + Send + 'static>(listener: TcpListener, app: E) -> JoinHandle<()>
where
    E::Endpoint: 'static,
{
    let acceptor = TcpAcceptor::from_tokio(listener).expect("the fake's acceptor");
    let server = poem::Server::new_with_acceptor(acceptor);
    tokio::spawn(async move {
        let _ = server.run(app).await;
    })
}

/// A JSON response.
fn json_reply(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=UTF-8")
        .body(body.to_string())
}

/// Locks `mutex`, even if a panicking test poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The current UNIX time in seconds.
fn now_secs() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}
