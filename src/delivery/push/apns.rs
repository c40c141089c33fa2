//! The Apple Push Notification service over HTTP/2 with token (`.p8`)
//! authentication: a provider JWT (ES256, the key id in its header, the
//! team id as issuer) made once and reused for 50 minutes (Apple refuses
//! one older than an hour, and too many new ones), one
//! `POST /3/device/{token}` per push with the `apns-*` headers.
//!
//! Calls go to PushKit (VoIP) tokens as `voip` pushes, and so do their
//! cancels: iOS requires every VoIP push to be reported to CallKit, so the
//! app reports a cancel as a call and ends it at once (`callId` tells it
//! which). To an iPhone without a VoIP token a ring is an alert and a
//! cancel a background push.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{
    Outcome, PushKind, PushMessage, TokenCache, network, retry_after, retry_or_fail, unix_now,
};

/// A provider JWT is replaced after this long.
const JWT_LIFE: Duration = Duration::from_secs(50 * 60);

/// Apple's two services: apps built for development get sandbox tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApnsEnvironment {
    Production,
    Sandbox,
}

crate::domain::text_enum!(ApnsEnvironment {
    Production => "production",
    Sandbox => "sandbox",
});

impl ApnsEnvironment {
    fn url(self) -> &'static str {
        match self {
            Self::Production => "https://api.push.apple.com",
            Self::Sandbox => "https://api.sandbox.push.apple.com",
        }
    }
}

/// A tenant's APNs key.
#[derive(Clone)]
pub struct ApnsCredentials {
    pub team_id: String,
    pub key_id: String,
    /// The app's bundle id: the topic of its pushes (`.voip` appended for
    /// VoIP pushes).
    pub bundle_id: String,
    pub environment: ApnsEnvironment,
    key: EncodingKey,
    /// Its provider JWT's key in the cache.
    cache_key: [u8; 32],
}

impl ApnsCredentials {
    /// Checks the ids and reads the `.p8` key; says what is wrong.
    pub fn new(
        team_id: &str,
        key_id: &str,
        bundle_id: &str,
        p8: &str,
        environment: ApnsEnvironment,
    ) -> Result<Self, String> {
        let ten = |s: &str| s.len() == 10 && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ten(team_id) || !ten(key_id) {
            return Err("teamId and keyId are Apple's 10-character ids".into());
        }
        let bundle_ok = !bundle_id.is_empty()
            && bundle_id.len() <= 155
            && bundle_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !bundle_ok {
            return Err("bundleId must be the app's bundle id, like com.example.app".into());
        }
        let key = EncodingKey::from_ec_pem(p8.trim().as_bytes())
            .map_err(|_| "the key must be the .p8 file's text (a P-256 key in PEM)".to_owned())?;
        Ok(Self {
            team_id: team_id.into(),
            key_id: key_id.into(),
            bundle_id: bundle_id.into(),
            environment,
            key,
            cache_key: super::digest(&[team_id, key_id, p8.trim()]),
        })
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

/// The APNs client.
pub(super) struct Apns {
    http: reqwest::Client,
    /// Overrides both of Apple's addresses (a test server).
    base: Option<String>,
    /// Provider JWTs by key.
    jwts: TokenCache,
}

impl Apns {
    pub(super) fn new(base: Option<String>) -> anyhow::Result<Self> {
        let mut http = reqwest::Client::builder()
            .timeout(super::TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        // APNs speaks HTTP/2 only: over TLS ALPN picks it; a cleartext test
        // server is spoken to in HTTP/2 from the first byte.
        if base.as_deref().is_some_and(|b| b.starts_with("http://")) {
            http = http.http2_prior_knowledge();
        }
        Ok(Self {
            http: http.build()?,
            base,
            jwts: TokenCache::default(),
        })
    }

    pub(super) async fn send(
        &self,
        credentials: &ApnsCredentials,
        token: &str,
        voip: bool,
        message: &PushMessage,
    ) -> Outcome {
        let jwt = match self.jwt(credentials).await {
            Ok(jwt) => jwt,
            Err(outcome) => return outcome,
        };
        let base = self
            .base
            .as_deref()
            .unwrap_or(credentials.environment.url());
        let url = format!("{}/3/device/{token}", base.trim_end_matches('/'));
        let (push_type, topic, priority) = match (message.kind, voip) {
            (PushKind::Call | PushKind::CallCancel, true) => {
                ("voip", format!("{}.voip", credentials.bundle_id), "10")
            }
            (PushKind::Alert | PushKind::Call, false) => {
                ("alert", credentials.bundle_id.clone(), "10")
            }
            (PushKind::CallCancel, false) => ("background", credentials.bundle_id.clone(), "5"),
            (PushKind::Alert, true) => {
                return Outcome::Failed {
                    status: None,
                    reason: "alerts are not sent to VoIP tokens".into(),
                };
            }
        };
        let mut request = self
            .http
            .post(url)
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", topic)
            .header("apns-push-type", push_type)
            .header("apns-priority", priority)
            .header(
                "apns-expiration",
                (unix_now() + u64::from(message.ttl_secs)).to_string(),
            )
            .json(&payload(message, push_type));
        if message.kind == PushKind::Alert {
            request = request.header("apns-collapse-id", &message.collapse_id);
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(err) => return network(err),
        };
        let status = answer.status().as_u16();
        if answer.status().is_success() {
            return Outcome::Sent { status };
        }
        let wait = retry_after(answer.headers());
        let error: Value = answer.json().await.unwrap_or(Value::Null);
        let reason = error["reason"].as_str().unwrap_or("Unknown").to_owned();
        match (status, reason.as_str()) {
            // A token the app lost. `DeviceTokenNotForTopic` (a wrong bundle
            // id) is the tenant's mistake and must not cost it its devices.
            (410, _) | (400, "BadDeviceToken") => Outcome::BadToken { status, reason },
            (403, "ExpiredProviderToken" | "InvalidProviderToken") => {
                self.jwts.forget(credentials.cache_key);
                if reason == "ExpiredProviderToken" {
                    Outcome::Retry {
                        status: Some(status),
                        reason,
                        retry_after: None,
                    }
                } else {
                    Outcome::Failed {
                        status: Some(status),
                        reason,
                    }
                }
            }
            _ => retry_or_fail(status, reason, wait),
        }
    }

    /// The provider JWT, reused while younger than [`JWT_LIFE`].
    async fn jwt(&self, credentials: &ApnsCredentials) -> Result<String, Outcome> {
        let make = || async {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(credentials.key_id.clone());
            let claims = Claims {
                iss: &credentials.team_id,
                iat: unix_now(),
            };
            let jwt = jsonwebtoken::encode(&header, &claims, &credentials.key).map_err(|err| {
                Outcome::Failed {
                    status: None,
                    reason: format!("signing the provider JWT: {err}"),
                }
            })?;
            Ok((jwt, Instant::now() + JWT_LIFE))
        };
        self.jwts.get(credentials.cache_key, make).await
    }
}

/// The JSON body: `aps` for the system, the data beside it for the app.
fn payload(m: &PushMessage, push_type: &str) -> Value {
    let aps = match push_type {
        "alert" => json!({
            "alert": { "title": m.title, "body": m.body },
            "badge": m.badge,
            "sound": "default",
            "thread-id": m.thread,
        }),
        "background" => json!({ "content-available": 1 }),
        _ => json!({}),
    };
    let mut body = Map::new();
    body.insert("aps".into(), aps);
    for (k, v) in &m.data {
        if k != "aps" {
            body.insert(k.clone(), Value::String(v.clone()));
        }
    }
    Value::Object(body)
}
