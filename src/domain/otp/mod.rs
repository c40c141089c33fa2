//! One-time codes by SMS or email. Types and SQL here; sending and checking
//! in `service`; logging in and registering with them in `flows`.
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
mod service;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::MySqlConnection;

use super::{
    TenantId,
    participant::ResolvedLogin,
    tenant::Tenant,
    values::{Email, Phone},
};
use crate::error::{AppError, AppResult};

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
