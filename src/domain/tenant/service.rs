//! Tenant use cases on [`Core`]: creating a tenant with its first admin and
//! default policies, looking tenants up, suspending and resuming them.

use super::{
    NewTenant, Tenant, TenantStatus, ensure_active, get, get_by_slug, insert, list, set_status,
};
use crate::{
    domain::{
        Actor, Core, Page, TenantId, audit, cursor,
        events::DomainEvent,
        participant::{self, NewParticipant, Participant, ParticipantType},
        password, policy,
        session::Device,
        values::Name,
    },
    error::{AppError, AppResult},
};

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
