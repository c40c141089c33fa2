//! Platform superadmins: they manage tenants and belong to none.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};

use super::{
    Core, SuperadminId, audit,
    values::{Email, Password},
};
use crate::{
    domain::password,
    error::{AppError, AppResult, is_unique_violation},
};

/// A superadmin row (without the password hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Superadmin {
    pub id: SuperadminId,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

pub async fn find_by_email(
    conn: &mut MySqlConnection,
    email: &Email,
) -> AppResult<Option<(Superadmin, String)>> {
    let row =
        sqlx::query("SELECT id, email, created_at, password_hash FROM superadmins WHERE email = ?")
            .bind(email.as_str())
            .fetch_optional(conn)
            .await?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some((
            sqlx::FromRow::from_row(&row)?,
            row.try_get("password_hash")?,
        ))),
    }
}

pub async fn get(conn: &mut MySqlConnection, id: SuperadminId) -> AppResult<Option<Superadmin>> {
    Ok(
        sqlx::query_as("SELECT id, email, created_at FROM superadmins WHERE id = ?")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

impl Core {
    /// Creates a superadmin (CLI only).
    pub async fn create_superadmin(&self, email: Email, pw: &Password) -> AppResult<Superadmin> {
        let hash = password::hash(pw).await?;
        let admin = Superadmin {
            id: SuperadminId::new(),
            email: email.into_inner(),
            created_at: super::now(),
        };
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO superadmins (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(admin.id)
        .bind(&admin.email)
        .bind(hash.as_str())
        .bind(admin.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| {
            if is_unique_violation(&err, "uq_superadmins_email") {
                AppError::conflict("email_taken", "a superadmin with that email exists")
            } else {
                err.into()
            }
        })?;
        audit::record(
            &mut tx,
            audit::Entry::new(None, "superadmin.create").target("superadmin", admin.id.0),
        )
        .await?;
        tx.commit().await?;
        Ok(admin)
    }

    pub async fn superadmin(&self, id: SuperadminId) -> AppResult<Superadmin> {
        get(&mut *self.pool().acquire().await?, id)
            .await?
            .ok_or(AppError::NotFound("superadmin"))
    }
}
