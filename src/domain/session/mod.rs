//! Device sessions: login, refresh-token rotation with reuse detection,
//! logout, device lists, and the liveness check behind every authenticated
//! request. Types and SQL here; the use cases in `service`.
//!
//! A refresh token is `{session id}.{32 random bytes, base64url}`. Only its
//! SHA-256 is stored. Each refresh marks the presented token used and issues
//! a new one; presenting a used token again means it leaked, so the whole
//! session is revoked.

mod service;

pub use service::invalid_credentials;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use super::{
    Role, SessionId, TenantId, participant::Participant, secrets, superadmin::Superadmin,
    tenant::TenantStatus,
};
use crate::error::{AppError, AppResult};

/// Where a request that starts a session (or sends a code or a link)
/// comes from; name, agent and address are recorded on the session.
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub name: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The `Origin` header of a browser request, checked against the
    /// tenant's allowed origins.
    pub origin: Option<String>,
}

/// The subject a session belongs to.
#[derive(Debug, Clone)]
pub enum Subject {
    Participant(Participant),
    Superadmin(Superadmin),
}

/// A new session and the first refresh token of its chain.
pub struct Issued {
    pub session: SessionId,
    pub tenant: Option<TenantId>,
    pub subject_id: Uuid,
    pub role: Role,
    pub refresh_token: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("session", &self.session)
            .field("tenant", &self.tenant)
            .field("subject_id", &self.subject_id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// What the guard needs to know about a session.
#[derive(Debug, Clone)]
pub struct Liveness {
    pub tenant: Option<TenantId>,
    pub subject_id: Uuid,
    pub role: String,
    /// `None` when usable; otherwise why not.
    pub dead_because: Option<&'static str>,
}

fn new_refresh_token(session: SessionId) -> (String, Vec<u8>) {
    let secret = secrets::random();
    let hash = secrets::digest(&secret);
    (format!("{}.{secret}", session.0.simple()), hash)
}

pub(crate) fn parse_refresh_token(token: &str) -> Option<(SessionId, Vec<u8>)> {
    let (sid, secret) = token.trim().split_once('.')?;
    let sid = Uuid::try_parse(sid).ok()?;
    (secret.len() == secrets::LEN).then(|| (SessionId(sid), secrets::digest(secret)))
}

pub(crate) fn invalid_refresh() -> AppError {
    AppError::unauthorized(
        "invalid_refresh_token",
        "refresh token is invalid, expired or revoked",
    )
}

pub(crate) async fn insert(
    conn: &mut MySqlConnection,
    tenant: Option<TenantId>,
    subject: Uuid,
    role: Role,
    device: &Device,
    expires_at: DateTime<Utc>,
) -> AppResult<(SessionId, String)> {
    let id = SessionId::new();
    let now = super::now();
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, subject_id, role, device_name, user_agent, ip,
                               created_at, last_used_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(tenant)
    .bind(subject)
    .bind(role.as_str())
    .bind(truncate(device.name.as_deref(), 120))
    .bind(truncate(device.user_agent.as_deref(), 255))
    .bind(truncate(device.ip.as_deref(), 45))
    .bind(now)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    let token = add_refresh_token(conn, id).await?;
    Ok((id, token))
}

fn truncate(text: Option<&str>, max: usize) -> Option<String> {
    text.map(|t| t.chars().take(max).collect())
}

pub(crate) async fn add_refresh_token(
    conn: &mut MySqlConnection,
    session: SessionId,
) -> AppResult<String> {
    let (token, hash) = new_refresh_token(session);
    sqlx::query(
        "INSERT INTO session_refresh_tokens (session_id, token_hash, created_at) VALUES (?, ?, ?)",
    )
    .bind(session)
    .bind(hash)
    .bind(super::now())
    .execute(conn)
    .await?;
    Ok(token)
}

/// Whether a session may still be used, and whose it is.
pub async fn liveness(conn: &mut MySqlConnection, id: SessionId) -> AppResult<Option<Liveness>> {
    let row = sqlx::query(
        "SELECT s.tenant_id, s.subject_id, s.role, s.expires_at, s.revoked_at,
                t.status AS tenant_status, p.blocked
         FROM sessions s
         LEFT JOIN tenants t ON t.id = s.tenant_id
         LEFT JOIN participants p ON p.tenant_id = s.tenant_id AND p.id = s.subject_id
         WHERE s.id = ?",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let tenant: Option<TenantId> = row.try_get("tenant_id")?;
    let revoked: Option<DateTime<Utc>> = row.try_get("revoked_at")?;
    let expires: DateTime<Utc> = row.try_get("expires_at")?;
    let tenant_status: Option<TenantStatus> = row.try_get("tenant_status")?;
    let blocked: Option<bool> = row.try_get("blocked")?;
    let dead_because = if revoked.is_some() {
        Some("session_revoked")
    } else if expires <= Utc::now() {
        Some("session_expired")
    } else if tenant_status == Some(TenantStatus::Suspended) {
        Some("tenant_suspended")
    } else if blocked == Some(true) {
        Some("account_blocked")
    } else if tenant.is_some() && blocked.is_none() {
        Some("account_missing")
    } else {
        None
    };
    Ok(Some(Liveness {
        tenant,
        subject_id: row.try_get("subject_id")?,
        role: row.try_get("role")?,
        dead_because,
    }))
}

/// Revokes one session; false when it was unknown or already revoked.
pub async fn revoke(conn: &mut MySqlConnection, id: SessionId, reason: &str) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
    )
    .bind(super::now())
    .bind(reason)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live session of a subject.
pub async fn revoke_all_of_subject(
    conn: &mut MySqlConnection,
    tenant: Option<TenantId>,
    subject: Uuid,
    reason: &str,
) -> AppResult<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ?
         WHERE tenant_id <=> ? AND subject_id = ? AND revoked_at IS NULL",
    )
    .bind(super::now())
    .bind(reason)
    .bind(tenant)
    .bind(subject)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A live session as its owner sees it in the device list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionInfo {
    pub id: SessionId,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

/// The live sessions of a subject, most recently used first.
pub async fn list_live(
    conn: &mut MySqlConnection,
    tenant: Option<TenantId>,
    subject: Uuid,
) -> AppResult<Vec<SessionInfo>> {
    Ok(sqlx::query_as(
        "SELECT id, device_name, user_agent, ip, created_at, last_used_at FROM sessions
         WHERE tenant_id <=> ? AND subject_id = ? AND revoked_at IS NULL AND expires_at > ?
         ORDER BY last_used_at DESC",
    )
    .bind(tenant)
    .bind(subject)
    .bind(super::now())
    .fetch_all(conn)
    .await?)
}

/// Revokes one session of a subject; false when it is not theirs or not live.
pub async fn revoke_of_subject(
    conn: &mut MySqlConnection,
    tenant: Option<TenantId>,
    subject: Uuid,
    id: SessionId,
    reason: &str,
) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ?
         WHERE id = ? AND tenant_id <=> ? AND subject_id = ? AND revoked_at IS NULL",
    )
    .bind(super::now())
    .bind(reason)
    .bind(id)
    .bind(tenant)
    .bind(subject)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live session of a subject except `keep`.
pub async fn revoke_others_of_subject(
    conn: &mut MySqlConnection,
    tenant: Option<TenantId>,
    subject: Uuid,
    keep: SessionId,
    reason: &str,
) -> AppResult<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ?
         WHERE tenant_id <=> ? AND subject_id = ? AND id <> ? AND revoked_at IS NULL",
    )
    .bind(super::now())
    .bind(reason)
    .bind(tenant)
    .bind(subject)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The session standing for an old backend's token, created on first use.
/// `key` identifies the token's session (or account, when it had none).
pub async fn legacy(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: &Participant,
    key: &[u8; 32],
    device: &Device,
    expires_at: DateTime<Utc>,
) -> AppResult<SessionId> {
    let find = || {
        sqlx::query("SELECT id, subject_id FROM sessions WHERE tenant_id = ? AND legacy_key = ?")
            .bind(tenant)
            .bind(&key[..])
    };
    if let Some(row) = find().fetch_optional(&mut *conn).await? {
        return same_subject(&row, participant);
    }
    let id = SessionId::new();
    let now = super::now();
    let inserted = sqlx::query(
        "INSERT IGNORE INTO sessions (id, tenant_id, subject_id, role, device_name, user_agent, ip,
                                      created_at, last_used_at, expires_at, legacy_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(tenant)
    .bind(participant.id)
    .bind(Role::from(participant.kind).as_str())
    .bind(Some("legacy token"))
    .bind(truncate(device.user_agent.as_deref(), 255))
    .bind(truncate(device.ip.as_deref(), 45))
    .bind(now)
    .bind(now)
    .bind(expires_at)
    .bind(&key[..])
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(id);
    }
    // Another request created it first.
    let row = find().fetch_one(conn).await?;
    same_subject(&row, participant)
}

/// A legacy session row belongs to the participant the token names, or the
/// token is refused (never act as someone else).
fn same_subject(row: &sqlx::mysql::MySqlRow, participant: &Participant) -> AppResult<SessionId> {
    let subject: Uuid = row.try_get("subject_id")?;
    if subject != participant.id.0 {
        return Err(AppError::unauthorized(
            "invalid_token",
            "access token is invalid",
        ));
    }
    Ok(row.try_get("id")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_session_and_hash_their_secret() {
        let sid = SessionId::new();
        let (token, hash) = new_refresh_token(sid);
        let (parsed, parsed_hash) = parse_refresh_token(&token).unwrap();
        assert_eq!(parsed, sid);
        assert_eq!(parsed_hash, hash);
        assert!(!token.contains(&hex(&hash)));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn malformed_refresh_tokens_are_rejected() {
        for bad in [
            "",
            "abc",
            "not-a-uuid.secret",
            &format!("{}.short", Uuid::now_v7().simple()),
        ] {
            assert!(parse_refresh_token(bad).is_none(), "{bad}");
        }
    }
}
