//! Tenants (brands): creation with their first admin and default policies,
//! listing, suspension. Managed by the platform superadmin. Types and SQL
//! here; the use cases in `service`.

mod service;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};

use super::{
    TenantId,
    values::{Email, Name, Password, Slug},
};
use crate::error::{AppError, AppResult, is_unique_violation};

/// Whether a tenant's participants may use the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
}

super::text_enum!(TenantStatus { Active => "active", Suspended => "suspended" });

/// A tenant row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub default_region: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What is needed to create a tenant and its first admin.
#[derive(Debug)]
pub struct NewTenant {
    pub slug: Slug,
    pub name: Name,
    pub admin_email: Email,
    pub admin_password: Password,
    pub admin_name: Option<Name>,
}

const COLUMNS: &str = "id, slug, name, status, default_region, created_at, updated_at";

pub async fn insert(conn: &mut MySqlConnection, slug: &Slug, name: &Name) -> AppResult<Tenant> {
    let now = super::now();
    let tenant = Tenant {
        id: TenantId::new(),
        slug: slug.to_string(),
        name: name.to_string(),
        status: TenantStatus::Active,
        default_region: "IN".into(),
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO tenants (id, slug, name, status, default_region, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant.id)
    .bind(&tenant.slug)
    .bind(&tenant.name)
    .bind(tenant.status)
    .bind(&tenant.default_region)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err, "uq_tenants_slug") {
            AppError::conflict(
                "slug_taken",
                format!("a tenant with slug `{slug}` already exists"),
            )
        } else {
            err.into()
        }
    })?;
    Ok(tenant)
}

pub async fn get(conn: &mut MySqlConnection, id: TenantId) -> AppResult<Option<Tenant>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = ?"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn get_by_slug(conn: &mut MySqlConnection, slug: &str) -> AppResult<Option<Tenant>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = ?"))
            .bind(slug.trim().to_lowercase())
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn status(conn: &mut MySqlConnection, id: TenantId) -> AppResult<Option<TenantStatus>> {
    Ok(sqlx::query("SELECT status FROM tenants WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(|row| row.get("status")))
}

/// Tenants ordered by slug, after the cursor's slug.
pub async fn list(
    conn: &mut MySqlConnection,
    after_slug: Option<&str>,
    limit: u32,
) -> AppResult<Vec<Tenant>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tenants WHERE slug > ? ORDER BY slug LIMIT ?"
    ))
    .bind(after_slug.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

async fn set_status(
    conn: &mut MySqlConnection,
    id: TenantId,
    status: TenantStatus,
) -> AppResult<bool> {
    let done = sqlx::query("UPDATE tenants SET status = ?, updated_at = ? WHERE id = ?")
        .bind(status)
        .bind(super::now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn ensure_active(tenant: &Tenant) -> AppResult<()> {
    if tenant.status == TenantStatus::Active {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "tenant_suspended",
            message: "this tenant is suspended".into(),
        })
    }
}
