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
    delivery::{EmailMessage, messages},
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

    /// Sends an email after the answer has gone out: its time and its
    /// failure never show in the answer (failures are logged).
    fn mail_later(&self, to: Email, message: EmailMessage) {
        let core = self.clone();
        tokio::spawn(async move {
            if let Err(err) = core.delivery().email(&to, message).await {
                tracing::warn!(error = %err, "an account email was not delivered");
            }
        });
    }

    /// Creates a user account with a password, emails a verification link,
    /// and logs the new user in.
    pub async fn register(
        &self,
        tenant_slug: &str,
        new: Registration,
        device: &Device,
    ) -> AppResult<(Participant, Issued)> {
        let tenant = self.active_tenant(tenant_slug, device).await?;
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
                self_registered: true,
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
            &self.link("verify-email", &token),
            VERIFY_TTL_HOURS,
        )?;
        self.mail_later(new.email, message);
        let issued = self
            .start_session(&account, device, "auth.register")
            .await?;
        Ok((account, issued))
    }

    /// Emails a new verification link for the actor's email address.
    pub async fn send_email_verification(&self, actor: &Actor) -> AppResult<()> {
        let (tenant_id, me) = actor.participant()?;
        let tenant = self.active_tenant_by_id(tenant_id).await?;
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
        let settings = self.settings_of(tenant_id).await?;
        let ip = actor.ip.as_deref().unwrap_or("unknown");
        self.limits().check_identifier(
            tenant_id,
            Kind::AccountMailPerDestination,
            settings.otp_send_per_destination,
            &email,
            ip,
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
            &self.link("verify-email", &token),
            VERIFY_TTL_HOURS,
        )?;
        self.mail_later(Email::parse(&email)?, message);
        Ok(())
    }

    /// Confirms an email address from its link. The address must still be
    /// the account's (a changed address spends its links anyway).
    /// `origin`: a browser page's (see `check_origin`; the console's own
    /// link pages give `None`).
    pub async fn verify_email(&self, token: &str, origin: Option<&str>) -> AppResult<Participant> {
        let mut tx = self.pool().begin().await?;
        let (tenant, id, email) = spend_token(&mut tx, token, TokenPurpose::VerifyEmail).await?;
        self.active_tenant_by_id(tenant).await?;
        // Refused before the commit: the link stays unspent.
        self.check_origin(Some(tenant), origin).await?;
        let account = participant::get(&mut tx, tenant, id)
            .await?
            .ok_or_else(invalid_link)?;
        if account.email.as_deref() != Some(email.as_str()) {
            return Err(invalid_link());
        }
        participant::mark_verified(&mut tx, tenant, id, Some(&email), None).await?;
        audit::record(
            &mut tx,
            audit::Entry::by(
                Some(tenant),
                Some(id.0),
                account.kind.into(),
                "participant.email_verified",
            )
            .target("participant", id.0),
        )
        .await?;
        let verified = participant::get(&mut tx, tenant, id)
            .await?
            .ok_or_else(invalid_link)?;
        tx.commit().await?;
        Ok(verified)
    }

    /// Emails a password-reset link when the address belongs to an active
    /// account; answers the same either way, without waiting for the mail.
    pub async fn forgot_password(
        &self,
        tenant_slug: &str,
        email: &Email,
        from: &Device,
    ) -> AppResult<()> {
        let tenant = self.active_tenant(tenant_slug, from).await?;
        let settings = self.settings_of(tenant.id).await?;
        let ip = from.ip.as_deref().unwrap_or("unknown");
        self.limits()
            .check(tenant.id, Kind::OtpSendPerIp, settings.otp_send_per_ip, ip)?;
        self.limits().check_identifier(
            tenant.id,
            Kind::AccountMailPerDestination,
            settings.otp_send_per_destination,
            email.as_str(),
            ip,
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
            .ip(Some(ip.to_owned()))
            .target("participant", account.id.0),
        )
        .await?;
        tx.commit().await?;
        let link = self.link("reset-password", &token);
        let message =
            messages::reset_password(&tenant.name, &account.name, &link, RESET_TTL_MINUTES)?;
        self.mail_later(email.clone(), message);
        Ok(())
    }

    /// Sets a new password from a reset link; every session ends. The link
    /// must have gone to the account's current address.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &Password,
        origin: Option<&str>,
    ) -> AppResult<()> {
        let hash = password::hash(new_password).await?;
        let mut tx = self.pool().begin().await?;
        let (tenant, id, email) = spend_token(&mut tx, token, TokenPurpose::ResetPassword).await?;
        self.active_tenant_by_id(tenant).await?;
        self.check_origin(Some(tenant), origin).await?;
        let account = participant::get(&mut tx, tenant, id)
            .await?
            .ok_or_else(invalid_link)?;
        if account.email.as_deref() != Some(email.as_str()) || account.blocked {
            return Err(invalid_link());
        }
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

    /// Changes the actor's password; their other sessions end. Wrong current
    /// passwords count against the account's login limit.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new_password: &Password,
    ) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        let session = actor.session()?;
        let settings = self.settings_of(tenant).await?;
        let ip = actor.ip.as_deref().unwrap_or("unknown");
        self.limits().check_identifier(
            tenant,
            Kind::LoginPerAccount,
            settings.login_per_account,
            &me.to_string(),
            ip,
        )?;
        let stored =
            participant::password_hash(&mut *self.pool().acquire().await?, tenant, me).await?;
        let current_ok = match &stored {
            Some(stored) => password::verify(current, stored).await,
            None => current.is_empty(),
        };
        if !current_ok {
            return Err(AppError::Validation {
                code: "wrong_password",
                message: "the current password is wrong".into(),
            });
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
