//! `/api/platform/*`: the superadmin's login and tenant management.

use poem::{Request, web::Data};
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    PageOf, Reply, Tag,
    login::{TokenPair, device},
    ok,
};
use crate::{
    auth::BearerAuth,
    domain::{
        SuperadminId, TenantId, page_limit,
        tenant::{NewTenant, Tenant, TenantStatus},
        values::{Email, Name, Password, Slug},
    },
    state::AppState,
};

#[derive(Default)]
pub struct PlatformApi;

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct PlatformLoginRequest {
    pub email: String,
    pub password: String,
    pub device_name: Option<String>,
}

/// The platform superadmin.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SuperadminView {
    pub id: uuid::Uuid,
    pub email: String,
    /// Always `superadmin`.
    pub role: String,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct PlatformLoginResponse {
    #[oai(flatten)]
    pub tokens: TokenPair,
    pub superadmin: SuperadminView,
}

/// A tenant (brand).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TenantView {
    pub id: uuid::Uuid,
    pub slug: String,
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    /// ISO 3166 region for reading national phone numbers.
    pub default_region: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.0,
            slug: t.slug,
            name: t.name,
            status: t.status.as_str().to_owned(),
            default_region: t.default_region,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A new tenant and its first admin.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateTenantRequest {
    /// 2-40 of a-z, 0-9 and `-`.
    pub slug: String,
    pub name: String,
    pub admin_email: String,
    /// 8-128 characters.
    pub admin_password: String,
    pub admin_name: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreatedTenant {
    pub tenant: TenantView,
    pub admin_id: uuid::Uuid,
}

#[OpenApi(prefix_path = "/api/platform", tag = "Tag::Platform")]
impl PlatformApi {
    /// Log in as the platform superadmin
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<PlatformLoginRequest>,
    ) -> Reply<PlatformLoginResponse> {
        let body = body.0;
        let email = Email::parse(&body.email)?;
        let (admin, issued) = state
            .core
            .superadmin_login(
                &email,
                &body.password,
                &device(state, req, body.device_name),
            )
            .await?;
        ok(PlatformLoginResponse {
            tokens: state.auth.tokens(issued)?.into(),
            superadmin: SuperadminView {
                id: admin.id.0,
                email: admin.email,
                role: "superadmin".into(),
            },
        })
    }

    /// The logged-in superadmin
    #[oai(path = "/me", method = "get")]
    async fn me(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<SuperadminView> {
        state.auth.authorize(&auth.0, "tenants", "read").await?;
        let admin = state.core.superadmin(SuperadminId(auth.0.id)).await?;
        ok(SuperadminView {
            id: admin.id.0,
            email: admin.email,
            role: "superadmin".into(),
        })
    }

    /// Create a tenant with its default policies and first admin
    #[oai(path = "/tenants", method = "post")]
    async fn create_tenant(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<CreateTenantRequest>,
    ) -> Reply<CreatedTenant> {
        state.auth.authorize(&auth.0, "tenants", "write").await?;
        let body = body.0;
        let new = NewTenant {
            slug: Slug::parse(&body.slug)?,
            name: Name::parse(&body.name)?,
            admin_email: Email::parse(&body.admin_email)?,
            admin_password: Password::parse(&body.admin_password)?,
            admin_name: body.admin_name.as_deref().map(Name::parse).transpose()?,
        };
        let (tenant, admin) = state.core.create_tenant(Some(&auth.0), new).await?;
        ok(CreatedTenant {
            tenant: tenant.into(),
            admin_id: admin.id.0,
        })
    }

    /// List tenants by slug
    #[oai(path = "/tenants", method = "get")]
    async fn list_tenants(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        /// From `nextCursor` of the previous page.
        cursor: Query<Option<String>>,
        /// 1-100, default 20.
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<TenantView>> {
        state.auth.authorize(&auth.0, "tenants", "read").await?;
        auth.0.require_superadmin()?;
        let page = state
            .core
            .tenants(cursor.0.as_deref(), page_limit(limit.0))
            .await?;
        ok(PageOf::from_page(page, TenantView::from))
    }

    /// One tenant
    #[oai(path = "/tenants/:id", method = "get")]
    async fn get_tenant(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<TenantView> {
        state.auth.authorize(&auth.0, "tenants", "read").await?;
        auth.0.require_superadmin()?;
        ok(state.core.tenant(TenantId(id.0)).await?.into())
    }

    /// Suspend a tenant: its participants' tokens stop working at once
    #[oai(path = "/tenants/:id/suspend", method = "post")]
    async fn suspend(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<TenantView> {
        set_status(state, auth, id.0, TenantStatus::Suspended).await
    }

    /// Resume a suspended tenant
    #[oai(path = "/tenants/:id/resume", method = "post")]
    async fn resume(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<TenantView> {
        set_status(state, auth, id.0, TenantStatus::Active).await
    }
}

async fn set_status(
    state: &AppState,
    auth: BearerAuth,
    id: uuid::Uuid,
    status: TenantStatus,
) -> Reply<TenantView> {
    state.auth.authorize(&auth.0, "tenants", "write").await?;
    ok(state
        .core
        .set_tenant_status(&auth.0, TenantId(id), status)
        .await?
        .into())
}
