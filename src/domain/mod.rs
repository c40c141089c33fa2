//! The core: rules, SQL and (later) events. Front doors (REST, Socket.IO,
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

pub mod audit;
pub mod events;
pub mod ids;
pub mod participant;
pub mod password;
pub mod policy;
pub mod session;
pub mod superadmin;
pub mod tenant;
pub mod values;

use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Serialize, de::DeserializeOwned};

pub use ids::{AuditId, ParticipantId, SessionId, SuperadminId, TenantId};

use crate::{
    db::Pool,
    error::{AppError, AppResult},
};

/// Tunables of the core, taken from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A session ends this long after its last refresh.
    pub refresh_token_ttl: chrono::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            refresh_token_ttl: chrono::Duration::days(30),
        }
    }
}

/// The core service: cheap to clone, shared by every front door.
#[derive(Clone)]
pub struct Core {
    pool: Pool,
    events: events::EventBus,
    settings: std::sync::Arc<Settings>,
}

impl Core {
    pub fn new(pool: Pool, settings: Settings) -> Self {
        Self {
            pool,
            events: events::EventBus::new(),
            settings: std::sync::Arc::new(settings),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The bus on which the core publishes what changed.
    pub fn events(&self) -> &events::EventBus {
        &self.events
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// True when MySQL answers a trivial query.
    pub async fn database_is_reachable(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// The roles of the policy: the three participant types and the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Astrologer,
    Admin,
    Superadmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Astrologer => "astrologer",
            Self::Admin => "admin",
            Self::Superadmin => "superadmin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "user" => Self::User,
            "astrologer" => Self::Astrologer,
            "admin" => Self::Admin,
            "superadmin" => Self::Superadmin,
            _ => return None,
        })
    }
}

impl From<participant::ParticipantType> for Role {
    fn from(kind: participant::ParticipantType) -> Self {
        match kind {
            participant::ParticipantType::User => Self::User,
            participant::ParticipantType::Astrologer => Self::Astrologer,
            participant::ParticipantType::Admin => Self::Admin,
        }
    }
}

/// Who is acting: an authenticated participant of a tenant, or the
/// superadmin. Core use cases take it for rules and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The tenant, for participants; `None` for the superadmin.
    pub tenant: Option<TenantId>,
    /// The participant or superadmin id.
    pub id: uuid::Uuid,
    pub role: Role,
    pub session: SessionId,
    /// The client address, for the audit log.
    pub ip: Option<String>,
}

impl Actor {
    /// The actor's tenant; the superadmin has none and is refused here.
    pub fn tenant(&self) -> AppResult<TenantId> {
        self.tenant
            .ok_or_else(|| AppError::forbidden("this action needs a tenant participant's token"))
    }

    /// The actor as a participant of its tenant.
    pub fn participant(&self) -> AppResult<(TenantId, ParticipantId)> {
        Ok((self.tenant()?, ParticipantId(self.id)))
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Refuses anyone but the platform superadmin (tenant management). The
    /// policy says so too; this holds even if a tenant's rules were wrong.
    pub fn require_superadmin(&self) -> AppResult<()> {
        if self.role == Role::Superadmin && self.tenant.is_none() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "only the platform superadmin manages tenants",
            ))
        }
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
