//! Accounts by email and password: self-registration with email
//! verification, password reset by emailed link, password change.
//!
//! Links carry a single-use token `{tenant}.{id}.{secret}`: looked up by
//! tenant and id, checked against the SHA-256 of the secret (the only thing
//! stored), refused when used or expired. A newer token of the same kind
//! replaces older ones.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};

use super::{
    Actor, Core, ParticipantId, TenantId, audit,
    limits::Kind,
    otp::registration_closed,
    participant::{self, NewParticipant, Participant, ParticipantType, ResolvedLogin},
    password, secrets,
    session::{self, Device, Issued},
    values::{Email, Name, Password, Phone},
};
use crate::{
    delivery::messages,
    error::{AppError, AppResult},
};

/// How long an email-verification link works.
const VERIFY_TTL_HOURS: u32 = 24;
/// How long a password-reset link works.
const RESET_TTL_MINUTES: u32 = 30;

/// What a link token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

super::text_enum!(TokenPurpose { VerifyEmail => "verify_email", ResetPassword => "reset_password" });

/// A self-registration by email and password.
#[derive(Debug)]
pub struct Registration {
    pub name: Name,
    pub email: Email,
    pub password: Password,
    /// Raw phone, read with the tenant's region.
    pub phone: Option<String>,
}

fn invalid_link() -> AppError {
    AppError::BadRequest {
        code: "invalid_token",
        message: "this link is invalid, expired or already used".into(),
    }
}

/// Stores a new link token (spending older ones of the same purpose).
async fn issue_token(
    conn: &mut MySqlConnection,
    account: &Participant,
    purpose: TokenPurpose,
    email: &str,
    expires_at: DateTime<Utc>,
) -> AppResult<String> {
    let now = super::now();
    sqlx::query(
        "UPDATE account_tokens SET used_at = ?
         WHERE tenant_id = ? AND participant_id = ? AND purpose = ? AND used_at IS NULL",
    )
    .bind(now)
    .bind(account.tenant_id)
    .bind(account.id)
    .bind(purpose)
    .execute(&mut *conn)
    .await?;
    let id = uuid::Uuid::now_v7();
    let secret = secrets::random();
    sqlx::query(
        "INSERT INTO account_tokens (tenant_id, id, participant_id, purpose, email, token_hash, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(account.tenant_id)
    .bind(id)
    .bind(account.id)
    .bind(purpose)
    .bind(email)
    .bind(secrets::digest(&secret))
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(format!(
        "{}.{}.{secret}",
        account.tenant_id.0.simple(),
        id.simple()
    ))
}

/// Spends a link token: whose it is and which address it was sent to.
async fn spend_token(
    conn: &mut MySqlConnection,
    token: &str,
    purpose: TokenPurpose,
) -> AppResult<(TenantId, ParticipantId, String)> {
    let mut parts = token.trim().splitn(3, '.');
    let tenant = parts
        .next()
        .and_then(|t| uuid::Uuid::try_parse(t).ok())
        .ok_or_else(invalid_link)?;
    let id = parts
        .next()
        .and_then(|i| uuid::Uuid::try_parse(i).ok())
        .ok_or_else(invalid_link)?;
    let secret = parts
        .next()
        .filter(|s| s.len() == secrets::LEN)
        .ok_or_else(invalid_link)?;
    let row = sqlx::query(
        "SELECT participant_id, purpose, email, token_hash, expires_at, used_at FROM account_tokens
         WHERE tenant_id = ? AND id = ? FOR UPDATE",
    )
    .bind(TenantId(tenant))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(invalid_link)?;
    let stored: Vec<u8> = row.try_get("token_hash")?;
    let used: Option<DateTime<Utc>> = row.try_get("used_at")?;
    let expires: DateTime<Utc> = row.try_get("expires_at")?;
    let kind: TokenPurpose = row.try_get("purpose")?;
    if !secrets::same(&stored, &secrets::digest(secret))
        || used.is_some()
        || expires <= super::now()
        || kind != purpose
    {
        return Err(invalid_link());
    }
    sqlx::query("UPDATE account_tokens SET used_at = ? WHERE tenant_id = ? AND id = ?")
        .bind(super::now())
        .bind(TenantId(tenant))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok((
        TenantId(tenant),
        row.try_get("participant_id")?,
        row.try_get("email")?,
    ))
}

impl Core {
    fn link(&self, page: &str, token: &str) -> String {
        format!("{}/account/{page}?token={token}", self.config().public_url)
    }

    /// Creates a user account with a password, emails a verification link,
    /// and logs the new user in.
    pub async fn register(
        &self,
        tenant_slug: &str,
        new: Registration,
        device: &Device,
    ) -> AppResult<(Participant, Issued)> {
        let tenant = self
            .tenant_by_slug(tenant_slug)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let settings = self.settings_of(tenant.id).await?;
        if !settings.allow_self_registration {
            return Err(registration_closed());
        }
        let ip = device.ip.as_deref().unwrap_or("unknown");
        self.limits()
            .check(tenant.id, Kind::OtpSendPerIp, settings.otp_send_per_ip, ip)?;
        let phone = new
            .phone
            .as_deref()
            .map(|p| Phone::parse(p, &tenant.default_region))
            .transpose()?;
        let password_hash = password::hash(&new.password).await?;
        let mut tx = self.pool().begin().await?;
        let account = participant::insert(
            &mut tx,
            tenant.id,
            NewParticipant {
                kind: ParticipantType::User,
                name: new.name,
                email: Some(new.email.clone()),
                phone,
                password_hash: Some(password_hash),
                email_verified: false,
                phone_verified: false,
                legacy_id: None,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::by(
                Some(tenant.id),
                Some(account.id.0),
                super::Role::User,
                "participant.register",
            )
            .ip(device.ip.clone())
            .target("participant", account.id.0)
            .detail(serde_json::json!({ "via": "password" })),
        )
        .await?;
        let expires = super::now() + chrono::Duration::hours(VERIFY_TTL_HOURS.into());
        let token = issue_token(
            &mut tx,
            &account,
            TokenPurpose::VerifyEmail,
            new.email.as_str(),
            expires,
        )
        .await?;
        tx.commit().await?;
        let message = messages::verify_email(
            &tenant.name,
            &account.name,
            &self.link("verify-email", &token),
            VERIFY_TTL_HOURS,
        )?;
        self.delivery().email(&new.email, message).await?;
        let issued = self
            .start_session(&account, device, "auth.register")
            .await?;
        Ok((account, issued))
    }

    /// Emails a new verification link for the actor's email address.
    pub async fn send_email_verification(&self, actor: &Actor) -> AppResult<()> {
        let (tenant_id, me) = actor.participant()?;
        let account = self.participant(tenant_id, me).await?;
        let Some(email) = account.email.clone() else {
            return Err(AppError::validation("this account has no email address"));
        };
        if account.email_verified_at.is_some() {
            return Err(AppError::conflict(
                "already_verified",
                "this email address is already verified",
            ));
        }
        let tenant = self.tenant(tenant_id).await?;
        let settings = self.settings_of(tenant_id).await?;
        self.limits().check(
            tenant_id,
            Kind::OtpSendPerDestination,
            settings.otp_send_per_destination,
            &email,
        )?;
        let expires = super::now() + chrono::Duration::hours(VERIFY_TTL_HOURS.into());
        let mut tx = self.pool().begin().await?;
        let token = issue_token(
            &mut tx,
            &account,
            TokenPurpose::VerifyEmail,
            &email,
            expires,
        )
        .await?;
        tx.commit().await?;
        let message = messages::verify_email(
            &tenant.name,
            &account.name,
            &self.link("verify-email", &token),
            VERIFY_TTL_HOURS,
        )?;
        self.delivery().email(&Email::parse(&email)?, message).await
    }

    /// Confirms an email address from its link.
    pub async fn verify_email(&self, token: &str) -> AppResult<Participant> {
        let mut tx = self.pool().begin().await?;
        let (tenant, id, email) = spend_token(&mut tx, token, TokenPurpose::VerifyEmail).await?;
        participant::mark_verified(&mut tx, tenant, id, Some(&email), None).await?;
        audit::record(
            &mut tx,
            audit::Entry::by(
                Some(tenant),
                Some(id.0),
                super::Role::User,
                "participant.email_verified",
            )
            .target("participant", id.0),
        )
        .await?;
        let account = participant::get(&mut tx, tenant, id)
            .await?
            .ok_or_else(invalid_link)?;
        tx.commit().await?;
        if account.email.as_deref() != Some(email.as_str()) {
            // The address changed after the link was sent: nothing verified.
            return Err(invalid_link());
        }
        Ok(account)
    }

    /// Emails a password-reset link when the address belongs to an active
    /// account; answers the same either way.
    pub async fn forgot_password(
        &self,
        tenant_slug: &str,
        email: &Email,
        ip: Option<&str>,
    ) -> AppResult<()> {
        let tenant = self
            .tenant_by_slug(tenant_slug)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        let settings = self.settings_of(tenant.id).await?;
        self.limits().check(
            tenant.id,
            Kind::OtpSendPerIp,
            settings.otp_send_per_ip,
            ip.unwrap_or("unknown"),
        )?;
        self.limits().check(
            tenant.id,
            Kind::OtpSendPerDestination,
            settings.otp_send_per_destination,
            email.as_str(),
        )?;
        let login = ResolvedLogin::Email(email.clone());
        let mut tx = self.pool().begin().await?;
        let Some((account, _)) = participant::find_for_login(&mut tx, tenant.id, &login).await?
        else {
            return Ok(());
        };
        if account.blocked {
            return Ok(());
        }
        let expires = super::now() + chrono::Duration::minutes(RESET_TTL_MINUTES.into());
        let token = issue_token(
            &mut tx,
            &account,
            TokenPurpose::ResetPassword,
            email.as_str(),
            expires,
        )
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::by(
                Some(tenant.id),
                Some(account.id.0),
                account.kind.into(),
                "auth.reset_requested",
            )
            .ip(ip.map(str::to_owned))
            .target("participant", account.id.0),
        )
        .await?;
        tx.commit().await?;
        let message = messages::reset_password(
            &tenant.name,
            &account.name,
            &self.link("reset-password", &token),
            RESET_TTL_MINUTES,
        )?;
        self.delivery().email(email, message).await
    }

    /// Sets a new password from a reset link; every session ends.
    pub async fn reset_password(&self, token: &str, new_password: &Password) -> AppResult<()> {
        let hash = password::hash(new_password).await?;
        let mut tx = self.pool().begin().await?;
        let (tenant, id, _) = spend_token(&mut tx, token, TokenPurpose::ResetPassword).await?;
        let account = participant::get(&mut tx, tenant, id)
            .await?
            .ok_or_else(invalid_link)?;
        participant::set_password(&mut tx, tenant, id, &hash).await?;
        session::revoke_all_of_subject(&mut tx, Some(tenant), id.0, "password_reset").await?;
        audit::record(
            &mut tx,
            audit::Entry::by(
                Some(tenant),
                Some(id.0),
                account.kind.into(),
                "auth.password_reset",
            )
            .target("participant", id.0),
        )
        .await?;
        tx.commit().await?;
        self.publish_sessions_revoked(Some(tenant), id.0).await;
        Ok(())
    }

    /// Changes the actor's password; their other sessions end.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new_password: &Password,
    ) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        let session = actor.session()?;
        let stored =
            participant::password_hash(&mut *self.pool().acquire().await?, tenant, me).await?;
        let current_ok = match &stored {
            Some(stored) => password::verify(current, stored).await,
            None => current.is_empty(),
        };
        if !current_ok {
            return Err(AppError::unauthorized(
                "invalid_credentials",
                "the current password is wrong",
            ));
        }
        let hash = password::hash(new_password).await?;
        let mut tx = self.pool().begin().await?;
        participant::set_password(&mut tx, tenant, me, &hash).await?;
        session::revoke_others_of_subject(&mut tx, Some(tenant), me.0, session, "password_changed")
            .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "auth.password_change").target("participant", me.0),
        )
        .await?;
        tx.commit().await?;
        self.publish_sessions_revoked(Some(tenant), me.0).await;
        Ok(())
    }
}
