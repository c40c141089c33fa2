//! Account use cases on [`Core`]: registration, email verification,
//! forgotten and changed passwords, and the mail they send.

use super::{
    RESET_TTL_MINUTES, Registration, TokenPurpose, VERIFY_TTL_HOURS, invalid_link, issue_token,
    spend_token,
};
use crate::{
    delivery::{EmailMessage, messages},
    domain::{
        Actor, Core, audit,
        limits::Kind,
        otp::registration_closed,
        participant::{self, NewParticipant, Participant, ParticipantType, ResolvedLogin},
        password,
        session::{self, Device, Issued},
        values::{Email, Password, Phone},
    },
    error::{AppError, AppResult},
};

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
            .check(tenant.id, Kind::OtpSendPerIp, settings.otp_send_per_ip, ip)
            .await?;
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
                crate::domain::Role::User,
                "participant.register",
            )
            .ip(device.ip.clone())
            .target("participant", account.id.0)
            .detail(serde_json::json!({ "via": "password" })),
        )
        .await?;
        let expires = crate::domain::now() + chrono::Duration::hours(VERIFY_TTL_HOURS.into());
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
        self.limits()
            .check_identifier(
                tenant_id,
                Kind::AccountMailPerDestination,
                settings.otp_send_per_destination,
                &email,
                ip,
            )
            .await?;
        let expires = crate::domain::now() + chrono::Duration::hours(VERIFY_TTL_HOURS.into());
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
            .check(tenant.id, Kind::OtpSendPerIp, settings.otp_send_per_ip, ip)
            .await?;
        self.limits()
            .check_identifier(
                tenant.id,
                Kind::AccountMailPerDestination,
                settings.otp_send_per_destination,
                email.as_str(),
                ip,
            )
            .await?;
        let login = ResolvedLogin::Email(email.clone());
        let mut tx = self.pool().begin().await?;
        let Some((account, _)) = participant::find_for_login(&mut tx, tenant.id, &login).await?
        else {
            return Ok(());
        };
        if account.blocked {
            return Ok(());
        }
        let expires = crate::domain::now() + chrono::Duration::minutes(RESET_TTL_MINUTES.into());
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
        self.limits()
            .check_identifier(
                tenant,
                Kind::LoginPerAccount,
                settings.login_per_account,
                &me.to_string(),
                ip,
            )
            .await?;
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
