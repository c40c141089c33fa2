//! Session use cases: password login (participants and the superadmin),
//! refresh rotation, logout, the device list, and the sessions behind old
//! backends' tokens.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};
use uuid::Uuid;

use super::{
    Device, Issued, Liveness, SessionInfo, add_refresh_token, insert, invalid_refresh, legacy,
    list_live, liveness, parse_refresh_token, revoke, revoke_of_subject,
};
use crate::{
    domain::{
        Actor, Core, Role, SessionId, TenantId, audit,
        events::DomainEvent,
        limits::Kind,
        participant::{self, LoginId, Participant, ResolvedLogin},
        password,
        superadmin::{self, Superadmin},
        tenant::TenantStatus,
        values::{Email, Phone},
    },
    error::{AppError, AppResult},
};

/// Rate-limit key of the platform's own logins (no tenant).
const PLATFORM: TenantId = TenantId(Uuid::nil());

/// A refusal that takes as long as a password check, so unknown accounts
/// cannot be told from wrong passwords by timing.
async fn refuse_login() -> AppError {
    password::burn_time().await;
    invalid_credentials()
}

/// The one answer to every failed login.
pub fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "invalid credentials")
}

impl Core {
    /// Password login of a tenant participant. Unknown tenant, unknown
    /// account, wrong password, blocked account and suspended tenant all give
    /// the same 401, so nothing about accounts leaks. (A browser page on an
    /// origin the tenant does not allow gets 403 first: tenant slugs are
    /// public, accounts are not.) Rate-limited per address and per account
    /// (tenant settings; see `limits`).
    pub async fn login(
        &self,
        tenant_slug: &str,
        login: LoginId,
        pw: &str,
        device: &Device,
    ) -> AppResult<(Participant, Issued)> {
        let Some(tenant) = self.tenant_by_slug(tenant_slug).await? else {
            return Err(refuse_login().await);
        };
        self.check_origin(Some(tenant.id), device.origin.as_deref())
            .await?;
        let settings = self.settings_of(tenant.id).await?;
        let ip = device.ip.as_deref().unwrap_or("unknown");
        self.limits()
            .check(tenant.id, Kind::LoginPerIp, settings.login_per_ip, ip)
            .await?;
        let resolved = match login {
            LoginId::Email(email) => ResolvedLogin::Email(email),
            LoginId::Phone(raw) => match Phone::parse(&raw, &tenant.default_region) {
                Ok(phone) => ResolvedLogin::Phone(phone),
                Err(_) => return Err(refuse_login().await),
            },
        };
        self.limits()
            .check_identifier(
                tenant.id,
                Kind::LoginPerAccount,
                settings.login_per_account,
                resolved.as_str(),
                ip,
            )
            .await?;
        let found =
            participant::find_for_login(&mut *self.pool().acquire().await?, tenant.id, &resolved)
                .await?;
        let Some((participant, Some(hash))) = found else {
            return Err(refuse_login().await);
        };
        let password_ok = password::verify(pw, &hash).await;
        if !password_ok || participant.blocked || tenant.status != TenantStatus::Active {
            return Err(invalid_credentials());
        }
        let issued = self
            .start_session(&participant, device, "auth.login")
            .await?;
        Ok((participant, issued))
    }

    /// Opens a session for a participant who has proven who they are
    /// (password, one-time code, registration), and audits it as `action`.
    pub async fn start_session(
        &self,
        participant: &Participant,
        device: &Device,
        action: &'static str,
    ) -> AppResult<Issued> {
        let role = Role::from(participant.kind);
        self.open_session(
            Some(participant.tenant_id),
            participant.id.0,
            role,
            device,
            action,
        )
        .await
    }

    async fn open_session(
        &self,
        tenant: Option<TenantId>,
        subject: Uuid,
        role: Role,
        device: &Device,
        action: &'static str,
    ) -> AppResult<Issued> {
        let mut tx = self.pool().begin().await?;
        let (session, refresh_token) = insert(
            &mut tx,
            tenant,
            subject,
            role,
            device,
            self.refresh_expiry(),
        )
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::by(tenant, Some(subject), role, action)
                .ip(device.ip.clone())
                .target("session", session.0),
        )
        .await?;
        tx.commit().await?;
        Ok(Issued {
            session,
            tenant,
            subject_id: subject,
            role,
            refresh_token,
        })
    }

    /// Password login of the platform superadmin.
    pub async fn superadmin_login(
        &self,
        email: &Email,
        pw: &str,
        device: &Device,
    ) -> AppResult<(Superadmin, Issued)> {
        let limits = crate::domain::settings::TenantSettings::default();
        self.check_origin(None, device.origin.as_deref()).await?;
        let ip = device.ip.as_deref().unwrap_or("unknown");
        self.limits()
            .check(PLATFORM, Kind::LoginPerIp, limits.login_per_ip, ip)
            .await?;
        self.limits()
            .check_identifier(
                PLATFORM,
                Kind::LoginPerAccount,
                limits.login_per_account,
                email.as_str(),
                ip,
            )
            .await?;
        let found = superadmin::find_by_email(&mut *self.pool().acquire().await?, email).await?;
        let Some((admin, hash)) = found else {
            return Err(refuse_login().await);
        };
        if !password::verify(pw, &hash).await {
            return Err(invalid_credentials());
        }
        let issued = self
            .open_session(None, admin.id.0, Role::Superadmin, device, "auth.login")
            .await?;
        Ok((admin, issued))
    }

    /// Rotates a refresh token. A token that was already used revokes its
    /// session (theft or replay) and is refused, as are all later ones.
    pub async fn refresh(&self, token: &str, origin: Option<&str>) -> AppResult<Issued> {
        let (session, hash) = parse_refresh_token(token).ok_or_else(invalid_refresh)?;
        if origin.is_some() {
            // Refused before the token is spent (and before any row is
            // locked): the session stays usable from an allowed origin.
            let live = liveness(&mut *self.pool().acquire().await?, session).await?;
            self.check_origin(live.and_then(|l| l.tenant), origin)
                .await?;
        }
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
                let revoked = revoke_for_reuse(&mut tx, session).await?;
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
        .bind(crate::domain::now())
        .bind(session)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        // Conditional: a logout that committed since the liveness read wins,
        // and this refresh fails instead of handing out dead tokens.
        let extended = sqlx::query(
            "UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(crate::domain::now())
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
    pub async fn logout(&self, actor: &Actor) -> AppResult<()> {
        let session = actor.session()?;
        let mut tx = self.pool().begin().await?;
        revoke(&mut tx, session, "logout").await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "auth.logout").target("session", session.0),
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::SessionRevoked { session })
            .await;
        Ok(())
    }

    /// The actor's live sessions (devices), most recently used first.
    pub async fn sessions_of(&self, actor: &Actor) -> AppResult<Vec<SessionInfo>> {
        actor.session()?;
        list_live(&mut *self.pool().acquire().await?, actor.tenant, actor.id).await
    }

    /// Ends one of the actor's own sessions; someone else's is a 404.
    pub async fn revoke_own_session(&self, actor: &Actor, id: SessionId) -> AppResult<()> {
        actor.session()?;
        let mut tx = self.pool().begin().await?;
        if !revoke_of_subject(&mut tx, actor.tenant, actor.id, id, "revoked_by_owner").await? {
            return Err(AppError::NotFound("session"));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "auth.session_revoke").target("session", id.0),
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::SessionRevoked { session: id })
            .await;
        Ok(())
    }

    /// Ends every session of the actor, this one included.
    pub async fn logout_everywhere(&self, actor: &Actor) -> AppResult<u64> {
        actor.session()?;
        let mut tx = self.pool().begin().await?;
        let ended =
            super::revoke_all_of_subject(&mut tx, actor.tenant, actor.id, "logout_all").await?;
        audit::record(&mut tx, audit::Entry::new(Some(actor), "auth.logout_all")).await?;
        tx.commit().await?;
        self.publish_sessions_revoked(actor.tenant, actor.id).await;
        Ok(ended)
    }

    /// Tells the caches that every session of a subject is gone.
    pub(crate) async fn publish_sessions_revoked(&self, tenant: Option<TenantId>, subject: Uuid) {
        self.events()
            .publish(DomainEvent::SubjectSessionsRevoked { tenant, subject })
            .await;
    }

    /// Liveness of a session, for the authentication guard. Asked at most
    /// once per cache period, so it also records the session as seen.
    pub async fn session_liveness(&self, id: SessionId) -> AppResult<Option<Liveness>> {
        self.stamps().session_used(id, crate::domain::now());
        liveness(&mut *self.pool().acquire().await?, id).await
    }

    /// The session standing for an old backend's token of `participant`.
    pub async fn legacy_session(
        &self,
        participant: &Participant,
        key: &[u8; 32],
        device: &Device,
    ) -> AppResult<SessionId> {
        let mut conn = self.pool().acquire().await?;
        legacy(
            &mut conn,
            participant.tenant_id,
            participant,
            key,
            device,
            self.refresh_expiry(),
        )
        .await
    }

    pub(crate) fn refresh_expiry(&self) -> DateTime<Utc> {
        crate::domain::now() + self.config().refresh_token_ttl
    }
}

/// Revokes a session whose spent refresh token came back, and audits it.
async fn revoke_for_reuse(conn: &mut MySqlConnection, session: SessionId) -> AppResult<bool> {
    let revoked = revoke(conn, session, "refresh_token_reuse").await?;
    if revoked && let Some(who) = liveness(conn, session).await? {
        let role = Role::parse(&who.role).unwrap_or(Role::User);
        audit::record(
            conn,
            audit::Entry::by(who.tenant, Some(who.subject_id), role, "auth.refresh_reuse")
                .target("session", session.0),
        )
        .await?;
    }
    Ok(revoked)
}
