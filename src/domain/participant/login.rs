//! How participants prove who they are, in SQL: the login ids, the lookups
//! behind logins and old backends' tokens, proven contacts, password hashes.

use sqlx::{MySqlConnection, Row};

use super::{COLUMNS, Participant};
use crate::{
    domain::{
        ParticipantId, TenantId,
        password::PasswordHash,
        values::{Email, Phone},
    },
    error::AppResult,
};

/// The participant an old backend's token names, by the id the account
/// had there (never by our own id: those tokens are not ours to trust).
pub async fn find_by_legacy_id(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    raw: &str,
) -> AppResult<Option<Participant>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM participants WHERE tenant_id = ? AND legacy_id = ?"
    ))
    .bind(tenant)
    .bind(raw)
    .fetch_optional(conn)
    .await?)
}

/// Marks a contact as proven (a code reached it, or a link was opened).
pub async fn mark_verified(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
    email: Option<&str>,
    phone: Option<&str>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE participants
         SET email_verified_at = IF(? IS NOT NULL AND email <=> ?, COALESCE(email_verified_at, ?), email_verified_at),
             phone_verified_at = IF(? IS NOT NULL AND phone <=> ?, COALESCE(phone_verified_at, ?), phone_verified_at)
         WHERE tenant_id = ? AND id = ?",
    )
    .bind(email)
    .bind(email)
    .bind(crate::domain::now())
    .bind(phone)
    .bind(phone)
    .bind(crate::domain::now())
    .bind(tenant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a new password hash.
pub async fn set_password(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
    hash: &PasswordHash,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE participants SET password_hash = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
    )
    .bind(hash.as_str())
    .bind(crate::domain::now())
    .bind(tenant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a participant's password (they log in by code until they set one).
pub async fn clear_password(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
) -> AppResult<()> {
    sqlx::query("UPDATE participants SET password_hash = NULL, updated_at = ? WHERE tenant_id = ? AND id = ?")
        .bind(crate::domain::now())
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored password hash of a participant, if any.
pub async fn password_hash(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
) -> AppResult<Option<String>> {
    Ok(
        sqlx::query("SELECT password_hash FROM participants WHERE tenant_id = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(conn)
            .await?
            .and_then(|row| row.get("password_hash")),
    )
}

/// How a participant names themself at login. The phone is raw: it is read
/// with the default region of the tenant, which the caller has not resolved.
#[derive(Debug)]
pub enum LoginId {
    Email(Email),
    Phone(String),
}

/// A login id resolved against a tenant.
#[derive(Debug, Clone)]
pub enum ResolvedLogin {
    Email(Email),
    Phone(Phone),
}

impl ResolvedLogin {
    /// The email or E.164 number: one spelling per account.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(email) => email.as_str(),
            Self::Phone(phone) => phone.as_str(),
        }
    }
}

/// The participant with this email or phone, with their password hash.
pub async fn find_for_login(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    login: &ResolvedLogin,
) -> AppResult<Option<(Participant, Option<String>)>> {
    let (column, value) = match login {
        ResolvedLogin::Email(email) => ("email", email.as_str()),
        ResolvedLogin::Phone(phone) => ("phone", phone.as_str()),
    };
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, password_hash FROM participants WHERE tenant_id = ? AND {column} = ?"
    ))
    .bind(tenant)
    .bind(value)
    .fetch_optional(conn)
    .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let hash: Option<String> = row.try_get("password_hash")?;
            Ok(Some((sqlx::FromRow::from_row(&row)?, hash)))
        }
    }
}
