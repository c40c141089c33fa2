//! Configuration, read once from the environment at start-up.
//!
//! Every variable is listed in the README's configuration table; keep the two
//! in step. Secrets are wrapped in [`Secret`] so `Debug` never prints them.
//! Single settings are parsed in `parse`; `dev_secret` keeps the development
//! JWT secret under the data directory; `core_config` derives the core's
//! configuration (the core does not import this module).

mod core_config;
mod dev_secret;
mod parse;

use std::{fmt, net::SocketAddr, time::Duration};

use anyhow::{Context, bail};

pub use parse::parse_key;
use parse::{number, parse_cors, retry_schedule, secs};

/// Default MySQL/MariaDB URL when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "mysql://root@127.0.0.1:3306/samvad";
/// Default listen address when `SAMVAD_BIND` is unset.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The most message writers (`SAMVAD_WRITERS`) a node runs.
const MAX_WRITERS: usize = 32;

/// The longest `SAMVAD_BATCH_WAIT_MS`: every send under load waits up to
/// this long before its batch is written.
const MAX_BATCH_WAIT_MS: u64 = 50;

/// A value that must never appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the server runs: development conveniences or production strictness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Dev,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub use crate::domain::origins::CorsOrigins;

/// The whole configuration of a Samvad process.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub database_url: Secret,
    pub bind: SocketAddr,
    /// Signs access tokens (`SAMVAD_JWT_SECRET`). Required in production; in
    /// development without it, the secret kept in `data_dir/jwt.key`.
    pub jwt_secret: Secret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub cors_origins: CorsOrigins,
    pub body_limit: usize,
    pub log_format: LogFormat,
    pub db_max_connections: u32,
    /// How many sends may be in progress at once (`SAMVAD_SEND_QUEUE`);
    /// past it a send is refused at once as `overloaded`.
    pub send_queue: usize,
    /// Message writer tasks (`SAMVAD_WRITERS`), each committing its share of
    /// the conversations' sends in batches on a connection of its own, one
    /// of `db_max_connections` (2 by default; 1 with `REDIS_URL`, where
    /// every node has its own).
    pub writers: usize,
    /// How long a busy writer waits for more sends before it writes a
    /// batch (`SAMVAD_BATCH_WAIT_MS`; 0, the default, never waits).
    pub batch_wait: Duration,
    pub shutdown_timeout: Duration,
    /// How long a verified session stays cached before MySQL is asked again.
    pub session_cache_ttl: Duration,
    /// How often every tenant's policy is re-read (edits from other processes).
    pub policy_refresh: Duration,
    /// Base URL of this server as users reach it, for links in emails.
    pub public_url: String,
    /// Where development mail and SMS land when no transport is configured,
    /// and where the development keys (`data.key`, `jwt.key`) are kept.
    pub data_dir: std::path::PathBuf,
    /// SMTP server URL (`smtps://user:pass@host:465`); `None` writes mail to files.
    pub smtp_url: Option<Secret>,
    /// The `From` of every email.
    pub mail_from: String,
    /// SMS gateway webhook; `None` writes SMS to a file.
    pub sms_webhook: Option<SmsWebhook>,
    /// Old apps' JWTs (`{uid}` / `{id, sessionId}`), accepted for one tenant.
    pub legacy_tokens: Option<LegacyTokens>,
    /// Take the client address from `X-Forwarded-For` (behind a proxy only).
    pub trust_proxy: bool,
    /// How long a participant whose last socket closed still shows online
    /// (a reconnect within it is not an offline-online flap).
    pub presence_grace: Duration,
    /// Key that seals secrets at rest (tenants' Agora certificates): 64 hex
    /// characters. Required in production; in development a key is made
    /// once and kept in `data_dir/data.key`.
    pub data_key: Option<Secret>,
    /// Where files are kept: `None` is the disk under `data_dir/files`;
    /// with `SAMVAD_S3_BUCKET`, any S3-compatible service.
    pub s3: Option<crate::storage::S3Config>,
    /// clamd's address (`SAMVAD_CLAMD_ADDR`, `host:port`): every upload is
    /// scanned before it is accepted.
    pub clamd_addr: Option<String>,
    /// How long a signed download link lives (`SAMVAD_MEDIA_LINK_TTL`).
    pub media_link_ttl: Duration,
    /// Push notifications: provider addresses and the grace before a push.
    pub push: PushConfig,
    /// Redis (`REDIS_URL`, RESP3: `redis://host:6379/?protocol=resp3`):
    /// several nodes share Socket.IO rooms through it. Unset: one node.
    pub redis_url: Option<Secret>,
    /// The prefix of this deployment's Redis channels
    /// (`SAMVAD_REDIS_PREFIX`, default `samvad`).
    pub redis_prefix: String,
    /// The bearer token `GET /metrics` wants (`SAMVAD_METRICS_TOKEN`);
    /// without it, the endpoint is off (404).
    pub metrics_token: Option<Secret>,
    /// Webhooks to tenants' URLs.
    pub webhooks: WebhookConfig,
}

/// Webhook settings (the endpoints are each tenant's).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Whether private and loopback addresses may be targets
    /// (`SAMVAD_WEBHOOK_ALLOW_PRIVATE=1`: development and tests only; it
    /// opens the server-side request forgery the rule closes).
    pub allow_private: bool,
    /// The waits before each retry (`SAMVAD_WEBHOOK_RETRY_SCHEDULE`, seconds,
    /// comma-separated; default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h,
    /// each with up to a tenth more at random); a delivery failing past the
    /// last is given up.
    pub retry_schedule: Vec<Duration>,
}

/// Push settings. The providers' credentials are each tenant's (set
/// through the API or the console); these are the server's.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// FCM's address (`SAMVAD_FCM_URL`; a test server), else Google's.
    pub fcm_url: Option<String>,
    /// APNs' address for both environments (`SAMVAD_APNS_URL`; a test
    /// server, spoken to in cleartext HTTP/2 when `http://`), else Apple's.
    pub apns_url: Option<String>,
    /// How long after a notification its push waits
    /// (`SAMVAD_PUSH_GRACE_MS`, default 5000): a phone that reconnects
    /// meanwhile gets the socket event instead, and a burst of messages
    /// makes one push.
    pub grace: Duration,
}

/// An HTTP SMS gateway: JSON POSTs signed with HMAC-SHA256.
#[derive(Debug, Clone)]
pub struct SmsWebhook {
    pub url: String,
    pub secret: Secret,
}

/// Verification of the JWTs issued by the old backends.
#[derive(Debug, Clone)]
pub struct LegacyTokens {
    pub secret: Secret,
    /// Slug of the tenant those apps belong to.
    pub tenant: String,
}

impl Config {
    /// The shared pool's size: `SAMVAD_DB_MAX_CONNECTIONS` less the
    /// writers' own connections (`db::writers_pool`).
    pub fn pool_connections(&self) -> u32 {
        let writers = u32::try_from(self.writers).unwrap_or(u32::MAX);
        self.db_max_connections.saturating_sub(writers).max(1)
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let env = match get("SAMVAD_ENV").as_deref() {
            None | Some("dev") | Some("development") => Environment::Dev,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => bail!("SAMVAD_ENV must be `dev` or `production`, not `{other}`"),
        };
        let data_dir: std::path::PathBuf = get("SAMVAD_DATA_DIR")
            .unwrap_or_else(|| "data".into())
            .into();
        let jwt_secret = match get("SAMVAD_JWT_SECRET") {
            Some(secret) if secret.len() >= 32 => Secret::new(secret),
            Some(_) => bail!("SAMVAD_JWT_SECRET must be at least 32 bytes"),
            None if env == Environment::Production => {
                bail!(
                    "SAMVAD_JWT_SECRET is required when SAMVAD_ENV=production (at least 32 bytes)"
                )
            }
            None => dev_secret::load_or_create(&data_dir)?,
        };
        let cors_origins = parse_cors(get("SAMVAD_CORS_ORIGINS").as_deref())?;
        if env == Environment::Production && cors_origins == CorsOrigins::Any {
            bail!(
                "SAMVAD_CORS_ORIGINS must list explicit origins when SAMVAD_ENV=production (a wildcard is refused)"
            );
        }
        let data_key = match get("SAMVAD_DATA_KEY") {
            Some(key) => {
                parse_key(&key).context("SAMVAD_DATA_KEY must be 64 hex characters (32 bytes)")?;
                Some(Secret::new(key))
            }
            None if env == Environment::Production => {
                bail!("SAMVAD_DATA_KEY is required when SAMVAD_ENV=production (64 hex characters)")
            }
            None => None,
        };
        let bind = get("SAMVAD_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let sms_webhook = match (
            get("SAMVAD_SMS_WEBHOOK_URL"),
            get("SAMVAD_SMS_WEBHOOK_SECRET"),
        ) {
            (None, _) => None,
            (Some(url), Some(secret))
                if url.starts_with("https://") || url.starts_with("http://") =>
            {
                Some(SmsWebhook {
                    url,
                    secret: Secret::new(secret),
                })
            }
            (Some(_), None) => {
                bail!("SAMVAD_SMS_WEBHOOK_SECRET is required with SAMVAD_SMS_WEBHOOK_URL")
            }
            (Some(url), Some(_)) => bail!("SAMVAD_SMS_WEBHOOK_URL `{url}` is not an http(s) URL"),
        };
        let legacy_tokens = match (get("SAMVAD_LEGACY_JWT_SECRET"), get("SAMVAD_LEGACY_TENANT")) {
            (None, None) => None,
            (Some(secret), Some(tenant)) => Some(LegacyTokens {
                secret: Secret::new(secret),
                tenant,
            }),
            _ => bail!("SAMVAD_LEGACY_JWT_SECRET and SAMVAD_LEGACY_TENANT go together"),
        };
        let db_max_connections = number(&get, "SAMVAD_DB_MAX_CONNECTIONS", 20)?;
        // With several nodes their writers add up, and each takes turns at
        // `log_head`: one each keeps the batches as large as one node's two.
        let default_writers = if get("REDIS_URL").is_some() { 1 } else { 2 };
        let writers = number(&get, "SAMVAD_WRITERS", default_writers)?;
        if writers > MAX_WRITERS || writers >= db_max_connections as usize {
            bail!(
                "SAMVAD_WRITERS must be 1-{MAX_WRITERS} and below SAMVAD_DB_MAX_CONNECTIONS ({db_max_connections}): each writer has one of those connections to itself, not `{writers}`"
            );
        }
        let batch_wait = match get("SAMVAD_BATCH_WAIT_MS") {
            None => Duration::ZERO,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(ms) if ms <= MAX_BATCH_WAIT_MS => Duration::from_millis(ms),
                _ => bail!(
                    "SAMVAD_BATCH_WAIT_MS must be 0-{MAX_BATCH_WAIT_MS} milliseconds, not `{raw}`"
                ),
            },
        };
        let public_url = get("SAMVAD_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            env,
            database_url: Secret::new(
                get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            ),
            bind: bind
                .parse()
                .with_context(|| format!("SAMVAD_BIND `{bind}` is not a socket address"))?,
            jwt_secret,
            access_token_ttl: secs(&get, "SAMVAD_ACCESS_TOKEN_TTL", 15 * 60)?,
            refresh_token_ttl: secs(&get, "SAMVAD_REFRESH_TOKEN_TTL", 30 * 24 * 3600)?,
            cors_origins,
            body_limit: number(&get, "SAMVAD_BODY_LIMIT", 1024 * 1024)?,
            log_format: match get("SAMVAD_LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => bail!("SAMVAD_LOG_FORMAT must be `text` or `json`, not `{other}`"),
            },
            db_max_connections,
            send_queue: number(&get, "SAMVAD_SEND_QUEUE", 256)?,
            writers,
            batch_wait,
            shutdown_timeout: secs(&get, "SAMVAD_SHUTDOWN_TIMEOUT", 20)?,
            session_cache_ttl: secs(&get, "SAMVAD_SESSION_CACHE_TTL", 30)?,
            policy_refresh: secs(&get, "SAMVAD_POLICY_REFRESH", 60)?,
            public_url,
            data_dir,
            smtp_url: get("SAMVAD_SMTP_URL").map(Secret::new),
            mail_from: get("SAMVAD_MAIL_FROM")
                .unwrap_or_else(|| "Samvad <no-reply@samvad.localhost>".into()),
            sms_webhook,
            legacy_tokens,
            trust_proxy: matches!(
                get("SAMVAD_TRUST_PROXY").as_deref(),
                Some("1" | "true" | "yes")
            ),
            presence_grace: secs(&get, "SAMVAD_PRESENCE_GRACE", 5)?,
            data_key,
            s3: crate::storage::S3Config::from_env(get).map_err(anyhow::Error::msg)?,
            clamd_addr: get("SAMVAD_CLAMD_ADDR"),
            media_link_ttl: secs(&get, "SAMVAD_MEDIA_LINK_TTL", 3600)?,
            push: PushConfig {
                fcm_url: get("SAMVAD_FCM_URL"),
                apns_url: get("SAMVAD_APNS_URL"),
                grace: Duration::from_millis(number(&get, "SAMVAD_PUSH_GRACE_MS", 5000)?),
            },
            redis_url: get("REDIS_URL").map(|url| Secret::new(resp3(&url))),
            redis_prefix: get("SAMVAD_REDIS_PREFIX").unwrap_or_else(|| "samvad".into()),
            metrics_token: get("SAMVAD_METRICS_TOKEN").map(Secret::new),
            webhooks: WebhookConfig {
                allow_private: matches!(
                    get("SAMVAD_WEBHOOK_ALLOW_PRIVATE").as_deref(),
                    Some("1" | "true" | "yes")
                ),
                retry_schedule: retry_schedule(get("SAMVAD_WEBHOOK_RETRY_SCHEDULE").as_deref())?,
            },
        })
    }

    /// A development configuration for tests: fixed secret, given database.
    pub fn for_tests(database_url: &str) -> Self {
        const SECRET: &str = "test-secret-test-secret-test-secret!";
        // The secret is given, so no development secret file is read or made.
        let mut config =
            Self::from_lookup(|key| (key == "SAMVAD_JWT_SECRET").then(|| SECRET.into()))
                .expect("defaults are valid");
        config.database_url = Secret::new(database_url);
        config.data_key = Some(Secret::new("7e".repeat(32)));
        config.data_dir =
            std::env::temp_dir().join(format!("samvad-test-{}", uuid::Uuid::now_v7().simple()));
        config
    }
}

#[cfg(test)]
mod tests;

/// `url` asking for RESP3 (the pub/sub pushes need it), unless it says.
fn resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}
