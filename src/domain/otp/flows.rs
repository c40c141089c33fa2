//! Logging in and registering with a one-time code (the mobile app's way
//! in). A code that proves the unverified contact of a self-registered
//! account also takes it over from whoever registered it with a password:
//! their sessions end and the password is cleared (a pre-registered account
//! cannot be used to keep watch on its real owner).

use super::{Purpose, Target, invalid_code, mask, registration_closed};
use crate::{
    domain::{
        Core, Role, audit,
        participant::{self, NewParticipant, Participant, ParticipantType, ResolvedLogin},
        session::{self, Device, Issued},
        values::Name,
    },
    error::AppResult,
};

impl Core {
    /// Logs in with a code sent by [`Core::send_code`] for `Purpose::Login`.
    pub async fn login_with_code(
        &self,
        tenant_slug: &str,
        target: Target,
        code: &str,
        device: &Device,
    ) -> AppResult<(Participant, Issued)> {
        let tenant = self.active_tenant(tenant_slug, device).await?;
        let login = target.resolve(&tenant)?;
        self.check_code(&tenant, Purpose::Login, &login, code, device.ip.as_deref())
            .await?;
        let found =
            participant::find_for_login(&mut *self.pool().acquire().await?, tenant.id, &login)
                .await?;
        let Some((account, _)) = found.filter(|(p, _)| !p.blocked) else {
            return Err(invalid_code());
        };
        let account = self.proved(&account, &login).await?;
        let issued = self
            .start_session(&account, device, "auth.otp_login")
            .await?;
        Ok((account, issued))
    }

    /// Registers (or, for an existing account, logs in) with a code sent for
    /// `Purpose::Register`. The proven phone or email is marked verified.
    /// Without a name, the new account is named after its destination.
    pub async fn register_with_code(
        &self,
        tenant_slug: &str,
        target: Target,
        code: &str,
        name: Option<Name>,
        device: &Device,
    ) -> AppResult<(Participant, Issued, bool)> {
        let tenant = self.active_tenant(tenant_slug, device).await?;
        let login = target.resolve(&tenant)?;
        // Everything that can refuse the request is checked before the code
        // is spent, so a refusal never costs the user their code.
        let name = match name {
            Some(name) => name,
            None => Name::parse(&mask(&login))?,
        };
        let settings = self.settings_of(tenant.id).await?;
        self.check_code(
            &tenant,
            Purpose::Register,
            &login,
            code,
            device.ip.as_deref(),
        )
        .await?;
        let mut tx = self.pool().begin().await?;
        let existing = participant::find_for_login(&mut tx, tenant.id, &login)
            .await?
            .map(|(p, _)| p);
        let (account, created) = match existing {
            Some(account) if account.blocked => return Err(session::invalid_credentials()),
            Some(account) => (account, false),
            None if !settings.allow_self_registration => return Err(registration_closed()),
            None => {
                let (email, phone) = match &login {
                    ResolvedLogin::Email(email) => (Some(email.clone()), None),
                    ResolvedLogin::Phone(phone) => (None, Some(phone.clone())),
                };
                let new = NewParticipant {
                    kind: ParticipantType::User,
                    name,
                    email_verified: email.is_some(),
                    phone_verified: phone.is_some(),
                    email,
                    phone,
                    password_hash: None,
                    legacy_id: None,
                    self_registered: false,
                };
                let account = participant::insert(&mut tx, tenant.id, new).await?;
                audit::record(
                    &mut tx,
                    audit::Entry::by(
                        Some(tenant.id),
                        Some(account.id.0),
                        Role::User,
                        "participant.register",
                    )
                    .ip(device.ip.clone())
                    .target("participant", account.id.0)
                    .detail(serde_json::json!({ "via": "otp" })),
                )
                .await?;
                (account, true)
            }
        };
        tx.commit().await?;
        let account = if created {
            account
        } else {
            self.proved(&account, &login).await?
        };
        let action = if created {
            "auth.otp_register"
        } else {
            "auth.otp_login"
        };
        let issued = self.start_session(&account, device, action).await?;
        Ok((account, issued, created))
    }

    /// A code reached the account's phone or email: that contact is now
    /// verified. If it was not before and the account was registered by
    /// whoever chose its password, they are shut out (sessions ended,
    /// password cleared): the code's holder owns the contact.
    async fn proved(&self, account: &Participant, login: &ResolvedLogin) -> AppResult<Participant> {
        let (email, phone, was_verified) = match login {
            ResolvedLogin::Email(email) => (
                Some(email.as_str()),
                None,
                account.email_verified_at.is_some(),
            ),
            ResolvedLogin::Phone(phone) => (
                None,
                Some(phone.as_str()),
                account.phone_verified_at.is_some(),
            ),
        };
        let mut tx = self.pool().begin().await?;
        participant::mark_verified(&mut tx, account.tenant_id, account.id, email, phone).await?;
        let take_over = !was_verified && account.self_registered;
        if take_over {
            session::revoke_all_of_subject(
                &mut tx,
                Some(account.tenant_id),
                account.id.0,
                "contact_proven",
            )
            .await?;
            participant::clear_password(&mut tx, account.tenant_id, account.id).await?;
            audit::record(
                &mut tx,
                audit::Entry::by(
                    Some(account.tenant_id),
                    Some(account.id.0),
                    account.kind.into(),
                    "auth.contact_proven",
                )
                .target("participant", account.id.0),
            )
            .await?;
        }
        let now = participant::get(&mut tx, account.tenant_id, account.id)
            .await?
            .ok_or(crate::error::AppError::NotFound("participant"))?;
        tx.commit().await?;
        if take_over {
            self.publish_sessions_revoked(Some(account.tenant_id), account.id.0)
                .await;
        }
        Ok(now)
    }
}
