//! Firebase Cloud Messaging, HTTP v1. A service account's key signs a JWT
//! (RS256) that Google's OAuth server (`token_uri`) exchanges for an access
//! token, kept until shortly before it expires; each push is one
//! `POST /v1/projects/{project}/messages:send` with it.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    Outcome, PushKind, PushMessage, TokenCache, network, retry_after, retry_or_fail, unix_now,
};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const FCM_URL: &str = "https://fcm.googleapis.com";
/// Google's OAuth token endpoint: the only `token_uri` taken, unless FCM
/// itself is overridden (a test server that serves both).
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// An access token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// A tenant's service account (the JSON file the Firebase console gives).
#[derive(Clone)]
pub struct FcmCredentials {
    pub project_id: String,
    pub client_email: String,
    pub token_uri: String,
    key: EncodingKey,
    /// Its access token's key in the cache.
    cache_key: [u8; 32],
}

#[derive(Deserialize)]
struct ServiceAccount {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: Option<String>,
}

impl FcmCredentials {
    /// Reads a service-account JSON; says what is wrong with it.
    pub fn from_service_account(json: &str) -> Result<Self, String> {
        let account: ServiceAccount = serde_json::from_str(json)
            .map_err(|err| format!("not a service-account JSON: {err}"))?;
        if account
            .kind
            .as_deref()
            .is_some_and(|k| k != "service_account")
        {
            return Err("the JSON's type must be service_account".into());
        }
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|_| "private_key is not an RSA private key in PEM".to_owned())?;
        let token_uri = account
            .token_uri
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into());
        if !(token_uri.starts_with("https://") || token_uri.starts_with("http://")) {
            return Err("token_uri must be an http(s) URL".into());
        }
        if account.project_id.trim().is_empty() || account.client_email.trim().is_empty() {
            return Err("project_id and client_email are required".into());
        }
        let ok_project = (4..=64).contains(&account.project_id.len())
            && account
                .project_id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok_project {
            return Err("project_id must be a Firebase project id (a-z, 0-9, -)".into());
        }
        let cache_key = super::digest(&[&account.client_email, &token_uri, &account.private_key]);
        Ok(Self {
            project_id: account.project_id,
            client_email: account.client_email,
            token_uri,
            key,
            cache_key,
        })
    }
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

/// The FCM client.
pub(super) struct Fcm {
    http: reqwest::Client,
    base: String,
    /// Access tokens by service account.
    tokens: TokenCache,
}

impl Fcm {
    pub(super) fn new(base: Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(super::TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            base: base.unwrap_or_else(|| FCM_URL.into()),
            tokens: TokenCache::default(),
        })
    }

    /// Refuses a `token_uri` other than Google's (or the overriding FCM
    /// server's): the server posts to it, so a tenant must not be able to
    /// point it at a private address.
    pub(super) fn check(&self, credentials: &FcmCredentials) -> Result<(), String> {
        let uri = credentials.token_uri.as_str();
        let overridden = self.base != FCM_URL
            && uri.starts_with(&format!("{}/", self.base.trim_end_matches('/')));
        if uri == GOOGLE_TOKEN_URI || overridden {
            Ok(())
        } else {
            Err(format!("token_uri must be {GOOGLE_TOKEN_URI}"))
        }
    }

    pub(super) async fn send(
        &self,
        credentials: &FcmCredentials,
        token: &str,
        message: &PushMessage,
    ) -> Outcome {
        if let Err(reason) = self.check(credentials) {
            return Outcome::Failed {
                status: None,
                reason,
            };
        }
        let access = match self.access_token(credentials).await {
            Ok(access) => access,
            Err(outcome) => return outcome,
        };
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.base.trim_end_matches('/'),
            credentials.project_id
        );
        let answer = match self
            .http
            .post(url)
            .bearer_auth(access)
            .json(&body(token, message))
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(err) => return network(err),
        };
        let status = answer.status().as_u16();
        if answer.status().is_success() {
            return Outcome::Sent { status };
        }
        let wait = retry_after(answer.headers());
        let error: Value = answer.json().await.unwrap_or(Value::Null);
        let code = error_code(&error);
        match (status, code.as_str()) {
            (_, "UNREGISTERED" | "SENDER_ID_MISMATCH") | (404, _) => Outcome::BadToken {
                status,
                reason: code,
            },
            (401, _) => {
                // The access token was refused: get another next time.
                self.tokens.forget(credentials.cache_key);
                Outcome::Retry {
                    status: Some(status),
                    reason: code,
                    retry_after: None,
                }
            }
            _ => retry_or_fail(status, code, wait),
        }
    }

    /// The service account's access token, from the cache or Google.
    async fn access_token(&self, credentials: &FcmCredentials) -> Result<String, Outcome> {
        self.tokens
            .get(credentials.cache_key, || self.exchange(credentials))
            .await
    }

    /// Exchanges a signed assertion for an access token; returns it and
    /// until when to use it.
    async fn exchange(&self, credentials: &FcmCredentials) -> Result<(String, Instant), Outcome> {
        let now = unix_now();
        let claims = Assertion {
            iss: &credentials.client_email,
            scope: SCOPE,
            aud: &credentials.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let assertion =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &credentials.key)
                .map_err(|err| Outcome::Failed {
                    status: None,
                    reason: format!("signing the service-account JWT: {err}"),
                })?;
        let answer = self
            .http
            .post(&credentials.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(network)?;
        let status = answer.status().as_u16();
        if !answer.status().is_success() {
            let wait = retry_after(answer.headers());
            let error: Value = answer.json().await.unwrap_or(Value::Null);
            let reason = error["error"].as_str().unwrap_or("oauth_error");
            return Err(retry_or_fail(status, format!("oauth: {reason}"), wait));
        }
        let got: TokenAnswer = answer.json().await.map_err(|err| Outcome::Retry {
            status: Some(status),
            reason: format!("oauth answer: {}", err.without_url()),
            retry_after: None,
        })?;
        let life = Duration::from_secs(got.expires_in).saturating_sub(RENEW_BEFORE);
        Ok((got.access_token, Instant::now() + life))
    }
}

/// FCM's error code: `details[].errorCode` when given, else `status`.
fn error_code(error: &Value) -> String {
    let error = &error["error"];
    error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["errorCode"].as_str())
        .or_else(|| error["status"].as_str())
        .unwrap_or("UNKNOWN")
        .to_owned()
}

/// The `messages:send` body.
fn body(token: &str, m: &PushMessage) -> Value {
    let ttl = format!("{}s", m.ttl_secs);
    let message = match m.kind {
        PushKind::Alert => json!({
            "token": token,
            "notification": { "title": m.title, "body": m.body },
            "data": m.data,
            "android": {
                "priority": "high",
                "ttl": ttl,
                "collapse_key": m.collapse_id,
                "notification": { "tag": m.collapse_id, "notification_count": m.badge },
            },
            "apns": {
                "headers": { "apns-collapse-id": m.collapse_id, "apns-priority": "10" },
                "payload": { "aps": { "badge": m.badge, "thread-id": m.thread, "sound": "default" } },
            },
        }),
        // Data only, high priority: the app rings (or stops ringing) itself.
        PushKind::Call | PushKind::CallCancel => json!({
            "token": token,
            "data": m.data,
            "android": { "priority": "high", "ttl": ttl },
            "apns": {
                "headers": { "apns-priority": "5", "apns-push-type": "background" },
                "payload": { "aps": { "content-available": 1 } },
            },
        }),
    };
    json!({ "message": message })
}
