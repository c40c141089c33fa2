//! Accounts by email and password: self-registration with email
//! verification, password reset by emailed link, password change.
//!
//! Links carry a single-use token `{tenant}.{id}.{secret}`: looked up by
//! tenant and id, checked against the SHA-256 of the secret (the only thing
//! stored), refused when used or expired. A newer token of the same kind
//! replaces older ones. Types and SQL here; the use cases in `service`.

mod service;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};

use super::{
    ParticipantId, TenantId,
    participant::Participant,
    secrets,
    values::{Email, Name, Password},
};
use crate::error::{AppError, AppResult};

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
