//! The core: rules, SQL and domain events. Front doors (REST, Socket.IO,
//! console) call the use cases on [`Core`]; nothing else touches MySQL.
//!
//! Each entity module holds its types, the SQL next to them (functions that
//! take `&mut MySqlConnection`, so the caller owns atomicity), and an
//! `impl Core` block with the use cases that open transactions, apply rules
//! and write the audit log. Every function on tenant data takes a [`TenantId`].

/// Maps a fieldless enum to the strings of a MySQL ENUM column (or any text
/// column): `as_str`, `from_str_opt`, and sqlx's Type/Encode/Decode through
/// `str`. sqlx's derived enums are refused by MariaDB's ENUM metadata.
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn from_str_opt(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl sqlx::Type<sqlx::MySql> for $ty {
            fn type_info() -> sqlx::mysql::MySqlTypeInfo {
                <str as sqlx::Type<sqlx::MySql>>::type_info()
            }

            fn compatible(ty: &sqlx::mysql::MySqlTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::MySql>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::MySql> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<u8>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::MySql>>::encode(self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::MySql> for $ty {
            fn decode(value: sqlx::mysql::MySqlValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::MySql>>::decode(value)?;
                Self::from_str_opt(text)
                    .ok_or_else(|| format!("unexpected {} `{text}`", stringify!($ty)).into())
            }
        }
    };
}
pub(crate) use text_enum;

pub mod account;
pub mod actor;
pub mod admission;
pub mod api_key;
pub mod audit;
pub mod call;
pub mod conversation;
pub mod dashboard;
pub mod device;
pub mod events;
pub mod file;
pub mod gauges;
pub mod guard;
pub mod ids;
pub mod limits;
pub mod lists;
pub mod log;
pub mod message;
pub mod notification;
pub mod origins;
pub mod otp;
pub mod participant;
pub mod password;
pub mod policy;
pub mod presence;
pub mod privacy;
pub mod push;
pub mod redis_link;
pub mod relationship;
pub mod report;
pub mod sealed;
pub mod secrets;
pub mod session;
pub mod settings;
pub mod stamps;
pub mod superadmin;
pub mod tenant;
pub mod values;
pub mod webhook;

use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Serialize, de::DeserializeOwned};

pub use actor::{Actor, Credential, Role, Scope};
pub use ids::{
    ApiKeyId, AuditId, CallId, ChatRequestId, ConsultationId, ConversationId, FileId, MessageId,
    ParticipantId, SessionId, SuperadminId, TenantId,
};

use crate::{
    db::Pool,
    error::{AppError, AppResult},
};

/// What the core takes from the process configuration. Built from it by
/// `CoreConfig::from_config`, which lives in `crate::config`: the core does
/// not read the process configuration itself.
#[derive(Clone)]
pub struct CoreConfig {
    /// A session ends this long after its last refresh.
    pub refresh_token_ttl: chrono::Duration,
    /// Key of the HMAC under which one-time codes are stored.
    pub otp_key: [u8; 32],
    /// Base URL of this server, for links in emails.
    pub public_url: String,
    /// How long a participant stays online after their last socket closes.
    pub presence_grace: std::time::Duration,
    /// How many sends may be in progress at once (see [`admission`]).
    pub send_queue: usize,
    /// Message writer tasks (see [`message::writer`]).
    pub writers: usize,
    /// How long a busy writer waits for more sends (see [`message::writer`]).
    pub batch_wait: std::time::Duration,
    /// Seals secrets at rest (AES-256-GCM).
    pub data_key: [u8; 32],
    /// The server's CORS origins (`SAMVAD_CORS_ORIGINS`): where a request
    /// with no tenant, or of a tenant that lists no origins, may come from.
    pub cors_origins: origins::CorsOrigins,
    /// The origin of `public_url`: this server's own pages.
    pub own_origin: Option<values::Origin>,
    /// The file storage, the link signer and the rest of what files need.
    pub files: file::Files,
    /// How long a notification's push waits (`SAMVAD_PUSH_GRACE_MS`).
    pub push_grace: std::time::Duration,
    /// The waits before each webhook retry (`SAMVAD_WEBHOOK_RETRY_SCHEDULE`).
    pub webhook_retries: Vec<std::time::Duration>,
}

/// In-process caches of the core.
pub struct Caches {
    /// Tenant settings; this process invalidates on change, others expire.
    pub settings: moka::sync::Cache<TenantId, std::sync::Arc<settings::TenantSettings>>,
    /// Participants' types, which never change once created.
    pub kinds: moka::sync::Cache<ParticipantId, participant::ParticipantType>,
    /// Every tenant's allowed origins together, for CORS (which must answer
    /// a preflight before any request names its tenant). Re-read when this
    /// process changes settings and on every upkeep round.
    pub known_origins: std::sync::RwLock<std::sync::Arc<std::collections::HashSet<String>>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            settings: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
            kinds: moka::sync::Cache::new(100_000),
            known_origins: std::sync::RwLock::default(),
        }
    }
}

/// The core service: cheap to clone, shared by every front door.
#[derive(Clone)]
pub struct Core {
    pool: Pool,
    events: events::EventBus,
    config: std::sync::Arc<CoreConfig>,
    caches: std::sync::Arc<Caches>,
    limits: std::sync::Arc<limits::Limits>,
    delivery: std::sync::Arc<crate::delivery::Delivery>,
    presence: std::sync::Arc<presence::Registry>,
    /// Wakes the call sweeper when a call starts ringing.
    calls_wakeup: std::sync::Arc<tokio::sync::Notify>,
    /// The bound on sends in progress.
    sends: std::sync::Arc<admission::Admission>,
    /// Appends every message (group commit); started on first use, on the
    /// caller's runtime.
    writer: std::sync::Arc<std::sync::OnceLock<message::writer::Writer>>,
    /// Writes "last used" and "last seen" in batches; started on first use.
    stamps: std::sync::Arc<std::sync::OnceLock<stamps::Stamps>>,
}

impl Core {
    pub fn new(pool: Pool, config: CoreConfig, delivery: crate::delivery::Delivery) -> Self {
        let config_send_queue = config.send_queue;
        Self {
            pool,
            events: events::EventBus::new(),
            config: std::sync::Arc::new(config),
            caches: std::sync::Arc::default(),
            limits: std::sync::Arc::default(),
            delivery: std::sync::Arc::new(delivery),
            presence: std::sync::Arc::default(),
            calls_wakeup: std::sync::Arc::default(),
            sends: std::sync::Arc::new(admission::Admission::new(config_send_queue)),
            writer: std::sync::Arc::default(),
            stamps: std::sync::Arc::default(),
        }
    }

    /// The connection pool: the core's own, never handed out (front doors
    /// call use cases).
    fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The message writer.
    fn writer(&self) -> &message::writer::Writer {
        self.writer.get_or_init(|| {
            message::writer::Writer::start(
                crate::db::writers_pool(&self.pool, self.config.writers),
                self.events.clone(),
                self.limits.clone(),
                self.config.writers,
                self.config.batch_wait,
            )
        })
    }

    /// The batched "last used" and "last seen" stamps.
    fn stamps(&self) -> &stamps::Stamps {
        self.stamps
            .get_or_init(|| stamps::Stamps::start(self.pool.clone()))
    }

    /// Sends admitted and not answered yet (every slot while shutting down).
    pub fn sends_in_progress(&self) -> usize {
        self.sends.in_progress()
    }

    /// Sends waiting for the message writer.
    pub fn sends_queued(&self) -> usize {
        self.writer.get().map_or(0, message::writer::Writer::queued)
    }

    /// At shutdown: refuses new sends, waits for those in progress to
    /// finish (at most `wait`), stops the writer once it has written what
    /// it holds, writes the stamps held, then closes the connection pool.
    pub async fn close(&self, wait: std::time::Duration) {
        self.sends.drain(wait).await;
        if let Some(writer) = self.writer.get() {
            writer.stop().await;
        }
        if let Some(stamps) = self.stamps.get() {
            stamps.stop().await;
        }
        self.pool.close().await;
    }

    /// The bus on which the core publishes what changed.
    pub fn events(&self) -> &events::EventBus {
        &self.events
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    pub fn limits(&self) -> &limits::Limits {
        &self.limits
    }

    pub fn delivery(&self) -> &crate::delivery::Delivery {
        &self.delivery
    }

    /// True when MySQL answers a trivial query.
    pub async fn database_is_reachable(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// The current time at the millisecond precision MySQL stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque cursor for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Clamps a requested page size into `1..=100` (default 20).
pub fn page_limit(requested: Option<u32>) -> u32 {
    requested.unwrap_or(20).clamp(1, 100)
}

/// Opaque cursors: the keyset of the last row, as base64url JSON.
pub mod cursor {
    use super::*;

    pub fn encode(key: &impl Serialize) -> String {
        let json = serde_json::to_vec(key).expect("cursor keys serialize");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode<T: DeserializeOwned>(raw: &str) -> AppResult<T> {
        let bad = || AppError::BadRequest {
            code: "bad_cursor",
            message: "cursor is not one this server issued".into(),
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim())
            .map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }

    /// Builds a page from `limit + 1` fetched rows: the extra row only tells
    /// that another page exists.
    pub fn page<T, K: Serialize>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> Page<T> {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| encode(&key(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside LIKE.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let raw = cursor::encode(&("Ravi", 7));
        let back: (String, i32) = cursor::decode(&raw).unwrap();
        assert_eq!(back, ("Ravi".to_owned(), 7));
        assert!(cursor::decode::<(String, i32)>("%%%").is_err());
        assert!(cursor::decode::<(String, i32)>(&cursor::encode(&"x")).is_err());
    }

    #[test]
    fn a_page_with_an_extra_row_has_a_next_cursor() {
        let page = cursor::page(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(
            cursor::decode::<i32>(&page.next_cursor.unwrap()).unwrap(),
            2
        );
        assert!(cursor::page(vec![1, 2], 2, |n| *n).next_cursor.is_none());
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn page_limits_are_clamped() {
        assert_eq!(page_limit(None), 20);
        assert_eq!(page_limit(Some(0)), 1);
        assert_eq!(page_limit(Some(1000)), 100);
    }
}
