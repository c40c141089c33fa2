//! Push providers: Firebase Cloud Messaging (HTTP v1) and the Apple Push
//! Notification service (HTTP/2, token authentication), and, in
//! development, a file (`data/push/outbox.jsonl`) for tenants that have
//! not set credentials. The core decides who gets what ([`PushMessage`]);
//! this module speaks the providers' protocols and says how each attempt
//! went ([`Outcome`]), so the core can retry, give up or forget a token.

mod apns;
mod fcm;

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use tokio::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

pub use apns::{ApnsCredentials, ApnsEnvironment};
pub use fcm::FcmCredentials;

/// How long a provider may take to answer one push.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What a push is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushKind {
    /// Shown to the person: a message, a missed call, a broadcast.
    Alert,
    /// An incoming call: a high-priority data push (an APNs VoIP push on a
    /// VoIP token) the app turns into a ringing screen.
    Call,
    /// The call was answered elsewhere or ended: stop ringing.
    CallCancel,
}

crate::domain::text_enum!(PushKind {
    Alert => "alert",
    Call => "call",
    CallCancel => "call_cancel",
});

/// One push, the same for every provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushMessage {
    pub kind: PushKind,
    pub title: String,
    pub body: String,
    /// The participant's total unread (the app icon's badge).
    pub badge: Option<u32>,
    /// Groups a conversation's pushes (FCM tag, APNs thread-id).
    pub thread: String,
    /// A later push with the same id replaces this one on the phone (FCM
    /// collapse key and tag, `apns-collapse-id`): a push sent twice shows
    /// once.
    pub collapse_id: String,
    /// For the app: what to open (`type`, `conversationId`, `seq`, ...).
    pub data: BTreeMap<String, String>,
    /// How long the provider keeps trying to reach the phone.
    pub ttl_secs: u32,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        status: u16,
    },
    /// The provider says the token is dead (FCM `UNREGISTERED`, APNs 410
    /// or `BadDeviceToken`): forget the device.
    BadToken {
        status: u16,
        reason: String,
    },
    /// Worth another try (429, 5xx, the network), after `retry_after` when
    /// the provider asked for it.
    Retry {
        status: Option<u16>,
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help (a refused payload, wrong credentials).
    Failed {
        status: Option<u16>,
        reason: String,
    },
}

/// Where one push goes.
pub enum Target<'a> {
    Fcm(&'a FcmCredentials, &'a str),
    Apns {
        credentials: &'a ApnsCredentials,
        token: &'a str,
        /// A PushKit (VoIP) token: only calls go to it.
        voip: bool,
    },
    /// No credentials, in development: written to the outbox file.
    File {
        provider: &'a str,
        token: &'a str,
    },
}

/// The providers' clients (each keeps its OAuth token or provider JWT
/// while it is good).
pub struct Push {
    fcm: fcm::Fcm,
    apns: apns::Apns,
    outbox: Option<PathBuf>,
}

/// Where the providers are: their real addresses unless overridden (test
/// servers); `outbox` is the development file, `None` in production.
#[derive(Debug, Clone, Default)]
pub struct PushEndpoints {
    pub fcm_url: Option<String>,
    pub apns_url: Option<String>,
    pub outbox: Option<PathBuf>,
}

impl Push {
    pub fn new(endpoints: PushEndpoints) -> anyhow::Result<Self> {
        Ok(Self {
            fcm: fcm::Fcm::new(endpoints.fcm_url)?,
            apns: apns::Apns::new(endpoints.apns_url)?,
            outbox: endpoints.outbox,
        })
    }

    /// Whether this server will use a tenant's service account (its
    /// `token_uri` must be Google's).
    pub fn check_fcm(&self, credentials: &FcmCredentials) -> Result<(), String> {
        self.fcm.check(credentials)
    }

    /// Whether pushes without credentials go to the development file.
    pub fn has_outbox(&self) -> bool {
        self.outbox.is_some()
    }

    /// Sends `message` to `target`.
    pub async fn send(&self, target: Target<'_>, message: &PushMessage) -> Outcome {
        match target {
            Target::Fcm(credentials, token) => self.fcm.send(credentials, token, message).await,
            Target::Apns {
                credentials,
                token,
                voip,
            } => self.apns.send(credentials, token, voip, message).await,
            Target::File { provider, token } => self.to_file(provider, token, message).await,
        }
    }

    async fn to_file(&self, provider: &str, token: &str, message: &PushMessage) -> Outcome {
        let Some(path) = &self.outbox else {
            return Outcome::Failed {
                status: None,
                reason: "not_configured".into(),
            };
        };
        let line = serde_json::json!({ "provider": provider, "token": token, "push": message });
        let written = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await?;
            file.write_all(format!("{line}\n").as_bytes()).await
        };
        match written.await {
            Ok(()) => Outcome::Sent { status: 200 },
            Err(err) => Outcome::Retry {
                status: None,
                reason: format!("writing the push outbox: {err}"),
                retry_after: None,
            },
        }
    }
}

/// The outcome of a provider's error answer that both share: 429 and 5xx
/// are retried (after `Retry-After` seconds when given), the rest fail.
fn retry_or_fail(status: u16, reason: String, retry_after: Option<Duration>) -> Outcome {
    if status == 429 || status >= 500 {
        Outcome::Retry {
            status: Some(status),
            reason,
            retry_after,
        }
    } else {
        Outcome::Failed {
            status: Some(status),
            reason,
        }
    }
}

/// `Retry-After` in seconds (the form both providers use), at most a day.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|secs| Duration::from_secs(secs.min(86_400)))
}

/// A network failure: always worth another try.
fn network(err: reqwest::Error) -> Outcome {
    // Without the URL: APNs' has the device's token in it.
    Outcome::Retry {
        status: None,
        reason: format!("network: {}", err.without_url()),
        retry_after: None,
    }
}

/// The providers' short-lived tokens (FCM OAuth access tokens, APNs
/// provider JWTs), by credentials: the digest of everything that makes
/// them, key included, so two tenants never share one unless they hold the
/// same key. One task at a time makes a given credentials' token; the
/// others wait for it, and other credentials are not held up.
#[derive(Default)]
struct TokenCache {
    slots: std::sync::Mutex<HashMap<[u8; 32], Arc<Slot>>>,
}

/// One credentials' token and until when it is good, locked while made.
type Slot = tokio::sync::Mutex<Option<(String, Instant)>>;

impl TokenCache {
    /// The token for `key`, made by `make` (which says until when it is
    /// good) when there is none or it has expired.
    async fn get<F, Fut>(&self, key: [u8; 32], make: F) -> Result<String, Outcome>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, Instant), Outcome>>,
    {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let mut held = slot.lock().await;
        if let Some((token, until)) = held.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, until) = make().await?;
        *held = Some((token.clone(), until));
        Ok(token)
    }

    /// Forgets `key`'s token (the provider refused it).
    fn forget(&self, key: [u8; 32]) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}

/// The cache key of credentials: SHA-256 of their parts.
fn digest(parts: &[&str]) -> [u8; 32] {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
