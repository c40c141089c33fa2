//! Device sessions: login, refresh-token rotation with reuse detection,
//! logout, and the liveness check behind every authenticated request.
//!
//! A refresh token is `{session id}.{32 random bytes, base64url}`. Only its
//! SHA-256 is stored. Each refresh marks the presented token used and issues
//! a new one; presenting a used token again means it leaked, so the whole
//! session is revoked.

use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use super::{
    Core, Role, SessionId, TenantId, audit,
    events::DomainEvent,
    participant::{self, LoginId, Participant, ResolvedLogin},
    superadmin::{self, Superadmin},
    tenant::{self, TenantStatus},
    values::{Email, Phone},
};
use crate::{
    domain::password,
    error::{AppError, AppResult},
};

/// Where a login comes from, recorded on the session.
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub name: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
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

fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn new_refresh_token(session: SessionId) -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret);
    (format!("{}.{secret}", session.0.simple()), hash)
}

fn parse_refresh_token(token: &str) -> Option<(SessionId, Vec<u8>)> {
    let (sid, secret) = token.trim().split_once('.')?;
    let sid = Uuid::try_parse(sid).ok()?;
    (secret.len() == 43).then(|| (SessionId(sid), hash_secret(secret)))
}

fn invalid_refresh() -> AppError {
    AppError::unauthorized(
        "invalid_refresh_token",
        "refresh token is invalid, expired or revoked",
    )
}

async fn insert(
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

async fn add_refresh_token(conn: &mut MySqlConnection, session: SessionId) -> AppResult<String> {
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

/// A constant-time-ish refusal: hashing a dummy password keeps unknown
/// accounts as slow as wrong passwords.
async fn refuse_login() -> AppError {
    password::burn_time().await;
    invalid_credentials()
}

fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "invalid credentials")
}

impl Core {
    /// Password login of a tenant participant. Unknown tenant, unknown
    /// account, wrong password, blocked account and suspended tenant all give
    /// the same 401, so nothing about accounts leaks.
    pub async fn login(
        &self,
        tenant_slug: &str,
        login: LoginId,
        pw: &str,
        device: &Device,
    ) -> AppResult<(Participant, Issued)> {
        let mut conn = self.pool().acquire().await?;
        let Some(tenant) = tenant::get_by_slug(&mut conn, tenant_slug).await? else {
            return Err(refuse_login().await);
        };
        let resolved = match login {
            LoginId::Email(email) => ResolvedLogin::Email(email),
            LoginId::Phone(raw) => match Phone::parse(&raw, &tenant.default_region) {
                Ok(phone) => ResolvedLogin::Phone(phone),
                Err(_) => return Err(refuse_login().await),
            },
        };
        let Some((participant, Some(hash))) =
            participant::find_for_login(&mut conn, tenant.id, &resolved).await?
        else {
            return Err(refuse_login().await);
        };
        drop(conn);
        let password_ok = password::verify(pw, &hash).await;
        if !password_ok || participant.blocked || tenant.status != TenantStatus::Active {
            return Err(invalid_credentials());
        }
        let role = Role::from(participant.kind);
        let mut tx = self.pool().begin().await?;
        let (session, refresh_token) = insert(
            &mut tx,
            Some(tenant.id),
            participant.id.0,
            role,
            device,
            self.refresh_expiry(),
        )
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::by(Some(tenant.id), Some(participant.id.0), role, "auth.login")
                .ip(device.ip.clone())
                .target("session", session.0),
        )
        .await?;
        tx.commit().await?;
        let issued = Issued {
            session,
            tenant: Some(tenant.id),
            subject_id: participant.id.0,
            role,
            refresh_token,
        };
        Ok((participant, issued))
    }

    /// Password login of the platform superadmin.
    pub async fn superadmin_login(
        &self,
        email: &Email,
        pw: &str,
        device: &Device,
    ) -> AppResult<(Superadmin, Issued)> {
        let mut conn = self.pool().acquire().await?;
        let Some((admin, hash)) = superadmin::find_by_email(&mut conn, email).await? else {
            return Err(refuse_login().await);
        };
        drop(conn);
        if !password::verify(pw, &hash).await {
            return Err(invalid_credentials());
        }
        let mut tx = self.pool().begin().await?;
        let (session, refresh_token) = insert(
            &mut tx,
            None,
            admin.id.0,
            Role::Superadmin,
            device,
            self.refresh_expiry(),
        )
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::by(None, Some(admin.id.0), Role::Superadmin, "auth.login")
                .ip(device.ip.clone())
                .target("session", session.0),
        )
        .await?;
        tx.commit().await?;
        let issued = Issued {
            session,
            tenant: None,
            subject_id: admin.id.0,
            role: Role::Superadmin,
            refresh_token,
        };
        Ok((admin, issued))
    }

    /// Rotates a refresh token. A token that was already used revokes its
    /// session (theft or replay) and is refused, as are all later ones.
    pub async fn refresh(&self, token: &str) -> AppResult<Issued> {
        let (session, hash) = parse_refresh_token(token).ok_or_else(invalid_refresh)?;
        let mut tx = self.pool().begin().await?;
        let used: Option<Option<DateTime<Utc>>> = sqlx::query(
            "SELECT used_at FROM session_refresh_tokens
             WHERE session_id = ? AND token_hash = ? FOR UPDATE",
        )
        .bind(session)
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.get("used_at"));
        match used {
            None => return Err(invalid_refresh()),
            Some(Some(_)) => {
                let revoked = revoke(&mut tx, session, "refresh_token_reuse").await?;
                if revoked {
                    let who = liveness(&mut tx, session).await?;
                    if let Some(who) = who {
                        audit::record(
                            &mut tx,
                            audit::Entry::by(
                                who.tenant,
                                Some(who.subject_id),
                                Role::parse(&who.role).unwrap_or(Role::User),
                                "auth.refresh_reuse",
                            )
                            .target("session", session.0),
                        )
                        .await?;
                    }
                }
                tx.commit().await?;
                if revoked {
                    self.events()
                        .publish(DomainEvent::SessionRevoked { session })
                        .await;
                }
                return Err(AppError::unauthorized(
                    "refresh_token_reused",
                    "this refresh token was already used; the session has been revoked",
                ));
            }
            Some(None) => {}
        }
        let live = liveness(&mut tx, session)
            .await?
            .ok_or_else(invalid_refresh)?;
        if live.dead_because.is_some() {
            return Err(invalid_refresh());
        }
        sqlx::query(
            "UPDATE session_refresh_tokens SET used_at = ? WHERE session_id = ? AND token_hash = ?",
        )
        .bind(super::now())
        .bind(session)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        // Conditional: a logout that committed since the liveness read wins,
        // and this refresh fails instead of handing out dead tokens.
        let extended = sqlx::query(
            "UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(super::now())
        .bind(self.refresh_expiry())
        .bind(session)
        .execute(&mut *tx)
        .await?;
        if extended.rows_affected() != 1 {
            return Err(invalid_refresh());
        }
        let refresh_token = add_refresh_token(&mut tx, session).await?;
        tx.commit().await?;
        Ok(Issued {
            session,
            tenant: live.tenant,
            subject_id: live.subject_id,
            role: Role::parse(&live.role).ok_or_else(invalid_refresh)?,
            refresh_token,
        })
    }

    /// Revokes the caller's session: its access tokens stop working at once.
    pub async fn logout(&self, actor: &super::Actor) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        revoke(&mut tx, actor.session, "logout").await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "auth.logout").target("session", actor.session.0),
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::SessionRevoked {
                session: actor.session,
            })
            .await;
        Ok(())
    }

    /// Liveness of a session, for the authentication guard.
    pub async fn session_liveness(&self, id: SessionId) -> AppResult<Option<Liveness>> {
        liveness(&mut *self.pool().acquire().await?, id).await
    }

    fn refresh_expiry(&self) -> DateTime<Utc> {
        super::now() + self.settings().refresh_token_ttl
    }
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
