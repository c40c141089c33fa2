//! Tenants (brands): creation with their first admin and default policies,
//! listing, suspension. Managed by the platform superadmin.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};

use super::{
    Actor, Core, Page, TenantId, audit, cursor,
    events::DomainEvent,
    participant::{self, NewParticipant, Participant, ParticipantType},
    policy,
    session::Device,
    values::{Email, Name, Password, Slug},
};
use crate::{
    domain::password,
    error::{AppError, AppResult, is_unique_violation},
};

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

impl Core {
    /// Creates a tenant with its default policies and first admin, atomically.
    /// `actor` is the superadmin, or `None` from the CLI.
    pub async fn create_tenant(
        &self,
        actor: Option<&Actor>,
        new: NewTenant,
    ) -> AppResult<(Tenant, Participant)> {
        if let Some(actor) = actor {
            actor.require_superadmin()?;
        }
        let password_hash = password::hash(&new.admin_password).await?;
        let mut tx = self.pool().begin().await?;
        let tenant = insert(&mut tx, &new.slug, &new.name).await?;
        policy::seed_defaults(&mut tx, tenant.id).await?;
        let admin = participant::insert(
            &mut tx,
            tenant.id,
            NewParticipant {
                kind: ParticipantType::Admin,
                name: new
                    .admin_name
                    .unwrap_or_else(|| Name::parse("Admin").expect("valid name")),
                email: Some(new.admin_email),
                phone: None,
                password_hash: Some(password_hash),
                email_verified: false,
                phone_verified: false,
                legacy_id: None,
                self_registered: false,
            },
        )
        .await?;
        audit::record(
            &mut tx,
            // A platform entry: the tenant's own admins do not see who created it.
            audit::Entry::new(actor, "tenant.create")
                .target("tenant", tenant.id.0)
                .detail(serde_json::json!({ "slug": tenant.slug, "adminId": admin.id })),
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::PolicyChanged { tenant: tenant.id })
            .await;
        Ok((tenant, admin))
    }

    pub async fn tenant(&self, id: TenantId) -> AppResult<Tenant> {
        get(&mut *self.pool().acquire().await?, id)
            .await?
            .ok_or(AppError::NotFound("tenant"))
    }

    /// The tenant a public request (registration, codes, links) names:
    /// unknown is a 404, suspended a 403, a browser page on an origin the
    /// tenant does not list a 403 `origin_not_allowed`.
    pub(crate) async fn active_tenant(&self, slug: &str, from: &Device) -> AppResult<Tenant> {
        let tenant = self
            .tenant_by_slug(slug)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        ensure_active(&tenant)?;
        self.check_origin(Some(tenant.id), from.origin.as_deref())
            .await?;
        Ok(tenant)
    }

    /// The tenant of an emailed link, which must still be active.
    pub(crate) async fn active_tenant_by_id(&self, id: TenantId) -> AppResult<Tenant> {
        let tenant = self.tenant(id).await?;
        ensure_active(&tenant)?;
        Ok(tenant)
    }

    pub async fn tenant_by_slug(&self, slug: &str) -> AppResult<Option<Tenant>> {
        get_by_slug(&mut *self.pool().acquire().await?, slug).await
    }

    pub async fn tenants(&self, cursor: Option<&str>, limit: u32) -> AppResult<Page<Tenant>> {
        let after: Option<String> = cursor.map(cursor::decode).transpose()?;
        let rows = list(
            &mut *self.pool().acquire().await?,
            after.as_deref(),
            limit + 1,
        )
        .await?;
        Ok(cursor::page(rows, limit, |t| t.slug.clone()))
    }

    /// Suspends or resumes a tenant. Suspension stops its tokens at once.
    pub async fn set_tenant_status(
        &self,
        actor: &Actor,
        id: TenantId,
        status: TenantStatus,
    ) -> AppResult<Tenant> {
        actor.require_superadmin()?;
        let mut tx = self.pool().begin().await?;
        if !set_status(&mut tx, id, status).await? {
            return Err(AppError::NotFound("tenant"));
        }
        let action = match status {
            TenantStatus::Active => "tenant.resume",
            TenantStatus::Suspended => "tenant.suspend",
        };
        audit::record(
            &mut tx,
            // A platform entry: the tenant's admins do not see the superadmin.
            audit::Entry::new(Some(actor), action).target("tenant", id.0),
        )
        .await?;
        let tenant = get(&mut tx, id)
            .await?
            .ok_or(AppError::NotFound("tenant"))?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::TenantStatusChanged { tenant: id, status })
            .await;
        Ok(tenant)
    }
}
