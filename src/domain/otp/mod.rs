//! One-time codes by SMS or email. Sending and checking here; logging in
//! and registering with them in `flows`.
//!
//! A code is 6 digits, valid for the tenant's `otpTtlSecs` (default 5
//! minutes), good for one use and `otpMaxAttempts` tries (default 5; the
//! next try fails even with the right code), and replaced by any newer code
//! for the same destination. Sending again waits `otpResendCooldownSecs`.
//! Only an HMAC of the code is stored, under a key derived from the server
//! secret, so a database copy does not reveal codes.
//!
//! Nothing here tells whether an account exists. Asking for a login code
//! for an unknown number answers exactly like for a known one: a code is
//! recorded (never sent), the cooldown applies, and delivery happens after
//! the answer, so neither its time nor its failure shows.

mod flows;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{MySqlConnection, Row};

use super::{
    Core, TenantId,
    limits::Kind,
    participant::{self, ResolvedLogin},
    secrets,
    session::Device,
    settings::TenantSettings,
    tenant::Tenant,
    values::{Email, Phone},
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

/// Locks the destination's throttle row and returns when it last got a code.
async fn lock_destination(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    destination: &str,
    purpose: Purpose,
) -> AppResult<DateTime<Utc>> {
    sqlx::query(
        "INSERT INTO otp_throttle (tenant_id, destination, purpose, last_sent_at) VALUES (?, ?, ?, '1970-01-01')
         ON DUPLICATE KEY UPDATE tenant_id = tenant_id",
    )
    .bind(tenant)
    .bind(destination)
    .bind(purpose)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar(
        "SELECT last_sent_at FROM otp_throttle WHERE tenant_id = ? AND destination = ? AND purpose = ? FOR UPDATE",
    )
    .bind(tenant)
    .bind(destination)
    .bind(purpose)
    .fetch_one(conn)
    .await?)
}

/// Stores a new code, spending every earlier one for the same destination.
async fn replace_code(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    purpose: Purpose,
    destination: &str,
    hash: Vec<u8>,
    expires_at: DateTime<Utc>,
) -> AppResult<uuid::Uuid> {
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
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO otp_codes (tenant_id, id, purpose, destination, code_hash, attempts, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )
    .bind(tenant)
    .bind(id)
    .bind(purpose)
    .bind(destination)
    .bind(hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE otp_throttle SET last_sent_at = ? WHERE tenant_id = ? AND destination = ? AND purpose = ?")
        .bind(now)
        .bind(tenant)
        .bind(destination)
        .bind(purpose)
        .execute(conn)
        .await?;
    Ok(id)
}

/// A code that could not be delivered: it is withdrawn and the cooldown
/// lifted, so asking again works at once.
async fn withdraw(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    code: uuid::Uuid,
    destination: &str,
    purpose: Purpose,
) -> AppResult<()> {
    sqlx::query("UPDATE otp_codes SET consumed_at = ? WHERE tenant_id = ? AND id = ?")
        .bind(super::now())
        .bind(tenant)
        .bind(code)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE otp_throttle SET last_sent_at = '1970-01-01' WHERE tenant_id = ? AND destination = ? AND purpose = ?")
        .bind(tenant)
        .bind(destination)
        .bind(purpose)
        .execute(conn)
        .await?;
    Ok(())
}

/// MySQL's deadlock error (SQLSTATE 40001): the transaction was rolled
/// back and may be retried.
fn is_deadlock(err: &AppError) -> bool {
    let AppError::Internal(err) = err else {
        return false;
    };
    matches!(err.downcast_ref::<sqlx::Error>(), Some(sqlx::Error::Database(db)) if db.code().as_deref() == Some("40001"))
}

impl Core {
    /// Sends a one-time code. For a login code to an unknown or blocked
    /// account nothing is sent, but the answer is the same.
    pub async fn send_code(
        &self,
        tenant_slug: &str,
        purpose: Purpose,
        target: Target,
        from: &Device,
    ) -> AppResult<Sent> {
        let tenant = self.active_tenant(tenant_slug, from).await?;
        let settings = self.settings_of(tenant.id).await?;
        let login = target.resolve(&tenant)?;
        let ip = from.ip.as_deref().unwrap_or("unknown");
        self.limits()
            .check(tenant.id, Kind::OtpSendPerIp, settings.otp_send_per_ip, ip)?;
        if purpose == Purpose::Register && !settings.allow_self_registration {
            return Err(registration_closed());
        }
        let code = new_code();
        let stored = match self
            .store_code(&tenant, &settings, purpose, &login, &code, ip)
            .await
        {
            Err(err) if is_deadlock(&err) => {
                self.store_code(&tenant, &settings, purpose, &login, &code, ip)
                    .await
            }
            other => other,
        }?;
        if let Some(code_id) = stored {
            self.deliver_later(
                tenant,
                settings.otp_ttl_secs,
                purpose,
                code_id,
                login.clone(),
                code,
            );
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

    /// Records a code under the destination's lock: checks the cooldown,
    /// then the destination's limits (so waiting out a cooldown costs
    /// nothing), and returns the code's id when it is to be delivered.
    async fn store_code(
        &self,
        tenant: &Tenant,
        settings: &TenantSettings,
        purpose: Purpose,
        login: &ResolvedLogin,
        code: &str,
        ip: &str,
    ) -> AppResult<Option<uuid::Uuid>> {
        let dest = login.as_str();
        let mut tx = self.pool().begin().await?;
        let last_sent = lock_destination(&mut tx, tenant.id, dest, purpose).await?;
        let ready = last_sent + chrono::Duration::seconds(settings.otp_resend_cooldown_secs.into());
        let wait = (ready - super::now()).num_seconds();
        if wait > 0 {
            return Err(AppError::TooManyRequests {
                retry_after_secs: wait as u64,
            });
        }
        self.limits().check_identifier(
            tenant.id,
            Kind::OtpSendPerDestination,
            settings.otp_send_per_destination,
            dest,
            ip,
        )?;
        let account = participant::find_for_login(&mut tx, tenant.id, login)
            .await?
            .map(|(p, _)| p);
        let deliver = match purpose {
            Purpose::Register => true,
            Purpose::Login => account.as_ref().is_some_and(|p| !p.blocked),
        };
        // A code nobody receives keeps the answer and the cooldown the same.
        let kept = if deliver {
            code.to_owned()
        } else {
            secrets::random()
        };
        let expires_at = super::now() + chrono::Duration::seconds(settings.otp_ttl_secs.into());
        let hash = code_hash(&self.config().otp_key, tenant.id, purpose, dest, &kept);
        let id = replace_code(&mut tx, tenant.id, purpose, dest, hash, expires_at).await?;
        tx.commit().await?;
        Ok(deliver.then_some(id))
    }

    /// Delivers a code after the answer has gone out. A failed delivery
    /// withdraws the code and lifts the cooldown, so asking again works.
    fn deliver_later(
        &self,
        tenant: Tenant,
        ttl_secs: u32,
        purpose: Purpose,
        code_id: uuid::Uuid,
        to: ResolvedLogin,
        code: String,
    ) {
        let core = self.clone();
        tokio::spawn(async move {
            let minutes = ttl_secs.div_ceil(60);
            let delivered = match &to {
                ResolvedLogin::Phone(phone) => {
                    core.delivery()
                        .sms(
                            &tenant.slug,
                            phone,
                            messages::otp_sms(&tenant.name, &code, minutes),
                        )
                        .await
                }
                ResolvedLogin::Email(email) => {
                    match messages::otp_email(&tenant.name, &code, minutes) {
                        Ok(message) => core.delivery().email(email, message).await,
                        Err(err) => Err(err),
                    }
                }
            };
            if delivered.is_err() {
                let withdrawn = async {
                    let mut conn = core.pool().acquire().await?;
                    withdraw(&mut conn, tenant.id, code_id, to.as_str(), purpose).await
                };
                if let Err(err) = withdrawn.await {
                    tracing::error!(error = %err, "withdrawing an undelivered code failed");
                }
            }
        });
    }

    /// Checks a code and spends it when right. A wrong code costs one of the
    /// code's attempts; the last one spends it. Malformed codes are refused
    /// before they count against anyone's limits.
    async fn check_code(
        &self,
        tenant: &Tenant,
        purpose: Purpose,
        login: &ResolvedLogin,
        code: &str,
        ip: Option<&str>,
    ) -> AppResult<()> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_code());
        }
        let settings = self.settings_of(tenant.id).await?;
        let dest = login.as_str();
        let ip = ip.unwrap_or("unknown");
        self.limits().check(
            tenant.id,
            Kind::OtpVerifyPerIp,
            settings.otp_verify_per_ip,
            ip,
        )?;
        self.limits().check_identifier(
            tenant.id,
            Kind::OtpVerifyPerDestination,
            settings.otp_verify_per_destination,
            dest,
            ip,
        )?;
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
}

impl Core {
    /// Deletes codes and link tokens that can no longer be used (a day after
    /// they expired), keeping the tables small. Cooldowns are unaffected:
    /// they live in `otp_throttle`.
    pub async fn purge_spent(&self) -> AppResult<()> {
        let horizon = super::now() - chrono::Duration::days(1);
        let tenants: Vec<TenantId> = sqlx::query_scalar("SELECT id FROM tenants")
            .fetch_all(self.pool())
            .await?;
        for tenant in tenants {
            for table in ["otp_codes", "account_tokens"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE tenant_id = ? AND expires_at < ? LIMIT 10000"
                ))
                .bind(tenant)
                .bind(horizon)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
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
