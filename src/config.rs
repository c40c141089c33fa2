//! Configuration, read once from the environment at start-up.
//!
//! Every variable is listed in the README's configuration table; keep the two
//! in step. Secrets are wrapped in [`Secret`] so `Debug` never prints them.

use std::{fmt, net::SocketAddr, time::Duration};

use anyhow::{Context, bail};

use crate::domain::values::Origin;

/// Default MySQL/MariaDB URL when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "mysql://root@127.0.0.1:3306/samvad";
/// Default listen address when `SAMVAD_BIND` is unset.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

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

/// Allowed CORS origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// The whole configuration of a Samvad process.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub database_url: Secret,
    pub bind: SocketAddr,
    pub jwt_secret: Secret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub cors_origins: CorsOrigins,
    pub body_limit: usize,
    pub log_format: LogFormat,
    pub db_max_connections: u32,
    pub shutdown_timeout: Duration,
    /// How long a verified session stays cached before MySQL is asked again.
    pub session_cache_ttl: Duration,
    /// How often every tenant's policy is re-read (edits from other processes).
    pub policy_refresh: Duration,
    /// Base URL of this server as users reach it, for links in emails.
    pub public_url: String,
    /// Where development mail and SMS land when no transport is configured.
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
        let jwt_secret = match get("SAMVAD_JWT_SECRET") {
            Some(secret) if secret.len() >= 32 => Secret::new(secret),
            Some(_) => bail!("SAMVAD_JWT_SECRET must be at least 32 bytes"),
            None if env == Environment::Production => {
                bail!(
                    "SAMVAD_JWT_SECRET is required when SAMVAD_ENV=production (at least 32 bytes)"
                )
            }
            None => Secret::new(random_secret()),
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
            db_max_connections: number(&get, "SAMVAD_DB_MAX_CONNECTIONS", 20)?,
            shutdown_timeout: secs(&get, "SAMVAD_SHUTDOWN_TIMEOUT", 20)?,
            session_cache_ttl: secs(&get, "SAMVAD_SESSION_CACHE_TTL", 30)?,
            policy_refresh: secs(&get, "SAMVAD_POLICY_REFRESH", 60)?,
            public_url,
            data_dir: get("SAMVAD_DATA_DIR")
                .unwrap_or_else(|| "data".into())
                .into(),
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
        })
    }

    /// A development configuration for tests: fixed secret, given database.
    pub fn for_tests(database_url: &str) -> Self {
        let mut config = Self::from_lookup(|_| None).expect("defaults are valid");
        config.database_url = Secret::new(database_url);
        config.jwt_secret = Secret::new("test-secret-test-secret-test-secret!");
        config.data_key = Some(Secret::new("7e".repeat(32)));
        config.data_dir =
            std::env::temp_dir().join(format!("samvad-test-{}", uuid::Uuid::now_v7().simple()));
        config
    }
}

/// A 32-byte key from 64 hex characters.
pub fn parse_key(hex: &str) -> anyhow::Result<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        bail!("expected 64 hex characters");
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| anyhow::anyhow!("expected 64 hex characters"))?;
    }
    Ok(key)
}

/// `*` (or unset) allows any origin; otherwise a comma-separated list of
/// origins, each `http(s)://host[:port]` exactly as browsers send it. An
/// empty list is refused: poem would read it as "any origin".
fn parse_cors(raw: Option<&str>) -> anyhow::Result<CorsOrigins> {
    let Some(list) = raw.map(str::trim) else {
        return Ok(CorsOrigins::Any);
    };
    let entries: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    if entries.contains(&"*") {
        return Ok(CorsOrigins::Any);
    }
    if entries.is_empty() {
        bail!("SAMVAD_CORS_ORIGINS lists no origin; give `*` or origins like https://app.example");
    }
    let origins = entries
        .into_iter()
        .map(|entry| {
            Origin::parse(entry)
                .map(Origin::into_inner)
                .map_err(|err| anyhow::anyhow!("SAMVAD_CORS_ORIGINS: {err}"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(CorsOrigins::List(origins))
}

fn number<T: std::str::FromStr + PartialEq + Default>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
) -> anyhow::Result<T> {
    match get(key) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .ok()
            .filter(|n: &T| *n != T::default())
            .ok_or_else(|| anyhow::anyhow!("{key} must be a positive whole number, not `{raw}`")),
    }
}

fn secs(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: u64,
) -> anyhow::Result<Duration> {
    number(get, key, default).map(Duration::from_secs)
}

/// A random 256-bit secret for development runs without `SAMVAD_JWT_SECRET`.
fn random_secret() -> String {
    crate::domain::secrets::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_are_a_working_dev_setup() {
        let config = with(&[]).unwrap();
        assert_eq!(config.env, Environment::Dev);
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!(config.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(config.body_limit, 1024 * 1024);
        assert!(config.jwt_secret.expose().len() >= 32);
    }

    #[test]
    fn production_refuses_to_start_without_a_jwt_secret() {
        let err = with(&[
            ("SAMVAD_ENV", "production"),
            ("SAMVAD_CORS_ORIGINS", "https://a.example"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("SAMVAD_JWT_SECRET"), "{err}");
    }

    #[test]
    fn production_refuses_a_wildcard_cors_origin() {
        let secret = "x".repeat(32);
        for origins in [None, Some("*"), Some("https://a.example, *")] {
            let mut pairs = vec![
                ("SAMVAD_ENV", "production"),
                ("SAMVAD_JWT_SECRET", secret.as_str()),
            ];
            if let Some(o) = origins {
                pairs.push(("SAMVAD_CORS_ORIGINS", o));
            }
            let err = with(&pairs).unwrap_err();
            assert!(err.to_string().contains("SAMVAD_CORS_ORIGINS"), "{err}");
        }
    }

    #[test]
    fn production_starts_with_a_secret_and_explicit_origins() {
        let secret = "y".repeat(40);
        let config = with(&[
            ("SAMVAD_ENV", "production"),
            ("SAMVAD_JWT_SECRET", &secret),
            (
                "SAMVAD_CORS_ORIGINS",
                "https://a.example/, https://b.example",
            ),
            ("SAMVAD_DATA_KEY", &"ab".repeat(32)),
        ])
        .unwrap();
        assert_eq!(
            config.cors_origins,
            CorsOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
        );
    }

    #[test]
    fn the_data_key_is_64_hex_characters_and_required_in_production() {
        let secret = "y".repeat(40);
        let production = [
            ("SAMVAD_ENV", "production"),
            ("SAMVAD_JWT_SECRET", secret.as_str()),
            ("SAMVAD_CORS_ORIGINS", "https://a.example"),
        ];
        let err = with(&production).unwrap_err();
        assert!(err.to_string().contains("SAMVAD_DATA_KEY"), "{err}");
        let key = "0a".repeat(32);
        let mut pairs = production.to_vec();
        pairs.push(("SAMVAD_DATA_KEY", &key));
        assert!(with(&pairs).is_ok());
        assert!(with(&[("SAMVAD_DATA_KEY", "abc")]).is_err());
        assert!(with(&[("SAMVAD_DATA_KEY", &"zz".repeat(32))]).is_err());
        assert_eq!(parse_key(&key).unwrap(), [10u8; 32]);
    }

    #[test]
    fn a_short_jwt_secret_is_refused_everywhere() {
        assert!(with(&[("SAMVAD_JWT_SECRET", "short")]).is_err());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let config = with(&[("SAMVAD_JWT_SECRET", &"s3cr3t".repeat(8))]).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn malformed_or_zero_numbers_are_reported_with_their_variable() {
        for bad in ["lots", "0", "-1"] {
            let err = with(&[("SAMVAD_BODY_LIMIT", bad)]).unwrap_err();
            assert!(err.to_string().contains("SAMVAD_BODY_LIMIT"), "{err}");
        }
        assert!(with(&[("SAMVAD_POLICY_REFRESH", "0")]).is_err());
    }

    #[test]
    fn an_empty_or_malformed_origin_list_is_refused_not_read_as_any() {
        for bad in [
            ",",
            " , ",
            "https://*.x.example",
            "app.example",
            "https://a.example/path",
            "ftp://a.example",
        ] {
            let err = with(&[("SAMVAD_CORS_ORIGINS", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("SAMVAD_CORS_ORIGINS"),
                "{bad}: {err}"
            );
        }
        let ok = with(&[(
            "SAMVAD_CORS_ORIGINS",
            "http://localhost:5173,https://[::1]:8443",
        )])
        .unwrap();
        assert_eq!(
            ok.cors_origins,
            CorsOrigins::List(vec![
                "http://localhost:5173".into(),
                "https://[::1]:8443".into()
            ])
        );
    }
}
