//! One-time codes by SMS or email, and the flows built on them: logging in
//! and registering by phone (the mobile app) or email.
//!
//! A code is 6 digits, valid for the tenant's `otpTtlSecs` (default 5
//! minutes), good for one use and `otpMaxAttempts` tries (default 5; the
//! next try fails even with the right code), and replaced by any newer code
//! for the same destination. Sending again waits `otpResendCooldownSecs`.
//! Only an HMAC of the code is stored, under a key derived from the server
//! secret, so a database copy does not reveal codes.
//!
//! Nothing here tells whether an account exists: asking for a login code
//! for an unknown number answers exactly like for a known one (a code is
//! even recorded, so the cooldown behaves the same), but nothing is sent.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{MySqlConnection, Row};

use super::{
    Core, TenantId, audit,
    limits::Kind,
    participant::{self, NewParticipant, Participant, ParticipantType, ResolvedLogin},
    secrets,
    session::{Device, Issued},
    settings::TenantSettings,
    tenant::{Tenant, TenantStatus},
    values::{Email, Name, Phone},
};
use crate::{
    delivery::messages,
    error::{AppError, AppResult},
};

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    Login,
}

super::text_enum!(Purpose { Register => "register", Login => "login" });

/// Where a code goes, as the client named it (phone or email, raw).
#[derive(Debug, Clone)]
pub enum Target {
    Phone(String),
    Email(String),
}

impl Target {
    /// Reads `{phone}` or `{email}`: exactly one of them.
    pub fn from_fields(phone: Option<String>, email: Option<String>) -> AppResult<Self> {
        match (phone, email) {
            (Some(phone), None) => Ok(Self::Phone(phone)),
            (None, Some(email)) => Ok(Self::Email(email)),
            _ => Err(AppError::validation(
                "give exactly one of `phone` and `email`",
            )),
        }
    }

    fn resolve(&self, tenant: &Tenant) -> AppResult<ResolvedLogin> {
        Ok(match self {
            Self::Phone(raw) => ResolvedLogin::Phone(Phone::parse(raw, &tenant.default_region)?),
            Self::Email(raw) => ResolvedLogin::Email(Email::parse(raw)?),
        })
    }
}

fn destination(login: &ResolvedLogin) -> &str {
    match login {
        ResolvedLogin::Phone(phone) => phone.as_str(),
        ResolvedLogin::Email(email) => email.as_str(),
    }
}

/// What the client is told after a send.
#[derive(Debug, Clone)]
pub struct Sent {
    /// `sms` or `email`.
    pub channel: &'static str,
    /// The destination, partly hidden (`+91******5678`, `a***@example.com`).
    pub masked: String,
    pub expires_in_secs: u64,
    pub resend_in_secs: u64,
}

fn mask(login: &ResolvedLogin) -> String {
    match login {
        ResolvedLogin::Phone(phone) => {
            let digits = phone.as_str();
            let keep = digits.len().saturating_sub(4);
            let country = digits.len().min(3);
            format!(
                "{}{}{}",
                &digits[..country],
                "*".repeat(keep.saturating_sub(country)),
                &digits[keep..]
            )
        }
        ResolvedLogin::Email(email) => {
            let (local, domain) = email
                .as_str()
                .split_once('@')
                .unwrap_or((email.as_str(), ""));
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
    }
}

fn invalid_code() -> AppError {
    AppError::unauthorized("invalid_code", "the code is wrong, expired or already used")
}

/// A new uniformly random 6-digit code.
fn new_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

fn code_hash(
    key: &[u8; 32],
    tenant: TenantId,
    purpose: Purpose,
    destination: &str,
    code: &str,
) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [
        tenant.to_string().as_str(),
        purpose.as_str(),
        destination,
        code,
    ] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().to_vec()
}

async fn last_sent(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    destination: &str,
    purpose: Purpose,
) -> AppResult<Option<DateTime<Utc>>> {
    Ok(sqlx::query(
        "SELECT MAX(created_at) AS sent FROM otp_codes WHERE tenant_id = ? AND destination = ? AND purpose = ?",
    )
    .bind(tenant)
    .bind(destination)
    .bind(purpose)
    .fetch_one(conn)
    .await?
    .try_get("sent")?)
}

/// Stores a new code, spending every earlier one for the same destination.
async fn replace_code(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    purpose: Purpose,
    destination: &str,
    hash: Vec<u8>,
    expires_at: DateTime<Utc>,
) -> AppResult<()> {
    let now = super::now();
    sqlx::query(
        "UPDATE otp_codes SET consumed_at = ?
         WHERE tenant_id = ? AND destination = ? AND purpose = ? AND consumed_at IS NULL",
    )
    .bind(now)
    .bind(tenant)
    .bind(destination)
    .bind(purpose)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO otp_codes (tenant_id, id, purpose, destination, code_hash, attempts, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )
    .bind(tenant)
    .bind(uuid::Uuid::now_v7())
    .bind(purpose)
    .bind(destination)
    .bind(hash)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

impl Core {
    /// The tenant named by a login or OTP request; unknown is a 404,
    /// suspended a 403.
    async fn active_tenant(&self, slug: &str) -> AppResult<Tenant> {
        let tenant = self
            .tenant_by_slug(slug)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        if tenant.status != TenantStatus::Active {
            return Err(AppError::Forbidden {
                code: "tenant_suspended",
                message: "this tenant is suspended".into(),
            });
        }
        Ok(tenant)
    }

    /// Sends a one-time code. For a login code to an unknown or blocked
    /// account nothing is sent, but the answer is the same.
    pub async fn send_code(
        &self,
        tenant_slug: &str,
        purpose: Purpose,
        target: Target,
        ip: Option<&str>,
    ) -> AppResult<Sent> {
        let tenant = self.active_tenant(tenant_slug).await?;
        let settings = self.settings_of(tenant.id).await?;
        let login = target.resolve(&tenant)?;
        let dest = destination(&login).to_owned();
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
            &dest,
        )?;
        if purpose == Purpose::Register && !settings.allow_self_registration {
            return Err(registration_closed());
        }
        let code = new_code();
        let mut tx = self.pool().begin().await?;
        if let Some(sent) = last_sent(&mut tx, tenant.id, &dest, purpose).await? {
            let ready = sent + chrono::Duration::seconds(settings.otp_resend_cooldown_secs.into());
            let wait = (ready - super::now()).num_seconds();
            if wait > 0 {
                return Err(AppError::TooManyRequests {
                    retry_after_secs: wait as u64,
                });
            }
        }
        let account = participant::find_for_login(&mut tx, tenant.id, &login)
            .await?
            .map(|(p, _)| p);
        let deliver = match purpose {
            Purpose::Register => true,
            Purpose::Login => account.as_ref().is_some_and(|p| !p.blocked),
        };
        // A code nobody receives keeps the answer and the cooldown the same.
        let stored = if deliver {
            code.clone()
        } else {
            new_code() + "x"
        };
        let expires_at = super::now() + chrono::Duration::seconds(settings.otp_ttl_secs.into());
        let hash = code_hash(&self.config().otp_key, tenant.id, purpose, &dest, &stored);
        replace_code(&mut tx, tenant.id, purpose, &dest, hash, expires_at).await?;
        tx.commit().await?;
        if deliver {
            self.deliver_code(&tenant, &settings, &login, &code).await?;
        }
        Ok(Sent {
            channel: match login {
                ResolvedLogin::Phone(_) => "sms",
                ResolvedLogin::Email(_) => "email",
            },
            masked: mask(&login),
            expires_in_secs: settings.otp_ttl_secs.into(),
            resend_in_secs: settings.otp_resend_cooldown_secs.into(),
        })
    }

    async fn deliver_code(
        &self,
        tenant: &Tenant,
        settings: &TenantSettings,
        to: &ResolvedLogin,
        code: &str,
    ) -> AppResult<()> {
        let minutes = settings.otp_ttl_secs.div_ceil(60);
        match to {
            ResolvedLogin::Phone(phone) => {
                self.delivery()
                    .sms(
                        &tenant.slug,
                        phone,
                        messages::otp_sms(&tenant.name, code, minutes),
                    )
                    .await
            }
            ResolvedLogin::Email(email) => {
                self.delivery()
                    .email(email, messages::otp_email(&tenant.name, code, minutes)?)
                    .await
            }
        }
    }

    /// Checks a code and spends it when right. A wrong code costs one of the
    /// code's attempts; the last one spends it.
    async fn check_code(
        &self,
        tenant: &Tenant,
        purpose: Purpose,
        login: &ResolvedLogin,
        code: &str,
        ip: Option<&str>,
    ) -> AppResult<()> {
        let settings = self.settings_of(tenant.id).await?;
        let dest = destination(login);
        self.limits().check(
            tenant.id,
            Kind::OtpVerifyPerIp,
            settings.otp_verify_per_ip,
            ip.unwrap_or("unknown"),
        )?;
        self.limits().check(
            tenant.id,
            Kind::OtpVerifyPerDestination,
            settings.otp_verify_per_destination,
            dest,
        )?;
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_code());
        }
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "SELECT id, code_hash, attempts, expires_at FROM otp_codes
             WHERE tenant_id = ? AND destination = ? AND purpose = ? AND consumed_at IS NULL
             ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
        )
        .bind(tenant.id)
        .bind(dest)
        .bind(purpose)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(invalid_code)?;
        let id: uuid::Uuid = row.try_get("id")?;
        let stored: Vec<u8> = row.try_get("code_hash")?;
        let attempts: u8 = row.try_get("attempts")?;
        let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
        let now = super::now();
        let right = secrets::same(
            &stored,
            &code_hash(&self.config().otp_key, tenant.id, purpose, dest, code),
        );
        let ok = right && expires_at > now && attempts < settings.otp_max_attempts;
        let attempts = if ok {
            attempts
        } else {
            attempts.saturating_add(1)
        };
        let spent = ok || expires_at <= now || attempts >= settings.otp_max_attempts;
        sqlx::query("UPDATE otp_codes SET attempts = ?, consumed_at = IF(?, ?, NULL) WHERE tenant_id = ? AND id = ?")
            .bind(attempts)
            .bind(spent)
            .bind(now)
            .bind(tenant.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if ok { Ok(()) } else { Err(invalid_code()) }
    }

    /// Logs in with a code sent by [`Core::send_code`] for `Purpose::Login`.
    pub async fn login_with_code(
        &self,
        tenant_slug: &str,
        target: Target,
        code: &str,
        device: &Device,
    ) -> AppResult<(Participant, Issued)> {
        let tenant = self.active_tenant(tenant_slug).await?;
        let login = target.resolve(&tenant)?;
        self.check_code(&tenant, Purpose::Login, &login, code, device.ip.as_deref())
            .await?;
        let found =
            participant::find_for_login(&mut *self.pool().acquire().await?, tenant.id, &login)
                .await?;
        let Some((account, _)) = found.filter(|(p, _)| !p.blocked) else {
            return Err(invalid_code());
        };
        self.mark_contact_verified(&account, &login).await?;
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
        let tenant = self.active_tenant(tenant_slug).await?;
        let login = target.resolve(&tenant)?;
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
            Some(account) if account.blocked => return Err(super::session::invalid_credentials()),
            Some(account) => (account, false),
            None => {
                let name = match name {
                    Some(name) => name,
                    None => Name::parse(&mask(&login))?,
                };
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
                };
                let account = participant::insert(&mut tx, tenant.id, new).await?;
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
                    .detail(serde_json::json!({ "via": "otp" })),
                )
                .await?;
                (account, true)
            }
        };
        tx.commit().await?;
        if !created {
            self.mark_contact_verified(&account, &login).await?;
        }
        let action = if created {
            "auth.otp_register"
        } else {
            "auth.otp_login"
        };
        let issued = self.start_session(&account, device, action).await?;
        Ok((account, issued, created))
    }

    async fn mark_contact_verified(
        &self,
        account: &Participant,
        login: &ResolvedLogin,
    ) -> AppResult<()> {
        let (email, phone) = match login {
            ResolvedLogin::Email(email) => (Some(email.as_str()), None),
            ResolvedLogin::Phone(phone) => (None, Some(phone.as_str())),
        };
        let mut conn = self.pool().acquire().await?;
        participant::mark_verified(&mut conn, account.tenant_id, account.id, email, phone).await
    }
}

/// The tenant does not let people create their own accounts.
pub fn registration_closed() -> AppError {
    AppError::Forbidden {
        code: "registration_closed",
        message: "this tenant does not allow creating accounts yourself".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..50).map(|_| new_code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 40);
    }

    #[test]
    fn a_code_hash_binds_tenant_purpose_destination_and_code() {
        let key = [7u8; 32];
        let t = TenantId::new();
        let base = code_hash(&key, t, Purpose::Login, "+919812345678", "123456");
        assert_ne!(
            base,
            code_hash(
                &key,
                TenantId::new(),
                Purpose::Login,
                "+919812345678",
                "123456"
            )
        );
        assert_ne!(
            base,
            code_hash(&key, t, Purpose::Register, "+919812345678", "123456")
        );
        assert_ne!(
            base,
            code_hash(&key, t, Purpose::Login, "+919812345679", "123456")
        );
        assert_ne!(
            base,
            code_hash(&key, t, Purpose::Login, "+919812345678", "123457")
        );
        assert_ne!(
            base,
            code_hash(&[8u8; 32], t, Purpose::Login, "+919812345678", "123456")
        );
    }

    #[test]
    fn destinations_are_masked() {
        let phone = ResolvedLogin::Phone(Phone::parse("+919812345678", "IN").unwrap());
        assert_eq!(mask(&phone), "+91******5678");
        let email = ResolvedLogin::Email(Email::parse("asha@example.com").unwrap());
        assert_eq!(mask(&email), "a***@example.com");
    }
}
