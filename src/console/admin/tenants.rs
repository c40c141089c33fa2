//! Tenants, for the platform superadmin: the list (by slug, paged), a new
//! tenant with its first admin, suspend and resume. Same checks (`tenants`
//! read/write on the platform) and core calls as `/api/platform/tenants`.

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use super::{
    Outcome, Viewer, check_csrf,
    common::{blank, invalid, notice, path_id, problem, see_other, superadmin_viewer, when},
    finish, html,
};
use crate::{
    domain::{
        TenantId,
        tenant::{NewTenant, TenantStatus},
        values::{Email, Name, Password, Slug},
    },
    error::AppResult,
    state::AppState,
};

const NOTICES: [(&str, &str); 3] = [
    ("created", "Tenant created with its first admin."),
    (
        "suspended",
        "Tenant suspended: its sessions and keys stop working at once.",
    ),
    ("resumed", "Tenant resumed."),
];

/// A tenant in the list.
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub active: bool,
    pub region: String,
    pub created: String,
    /// Files and thumbnails stored, human-readable.
    pub storage: String,
}

#[derive(Deserialize, Default)]
pub struct CreateForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    admin_email: String,
    #[serde(default)]
    admin_name: String,
    #[serde(default)]
    admin_password: String,
}

impl CreateForm {
    fn new_tenant(&self) -> AppResult<NewTenant> {
        Ok(NewTenant {
            slug: Slug::parse(&self.slug)?,
            name: Name::parse(&self.name)?,
            admin_email: Email::parse(&self.admin_email)?,
            admin_password: Password::parse(&self.admin_password)?,
            admin_name: blank(&self.admin_name).map(Name::parse).transpose()?,
        })
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    done: String,
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    rows: Vec<TenantRow>,
    next: Option<String>,
    form: &'a CreateForm,
    problem: Option<String>,
    notice: Option<&'static str>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    query: &ListQuery,
    form: &CreateForm,
    problem: Option<String>,
) -> Outcome {
    let page = state.core.tenants(blank(&query.cursor), 50).await?;
    let ids: Vec<_> = page.items.iter().map(|t| t.id).collect();
    let used = state.core.storage_used_by(&viewer.actor, &ids).await?;
    html(&TenantsPage {
        viewer,
        nav: "tenants",
        rows: page
            .items
            .into_iter()
            .map(|t| TenantRow {
                id: t.id.0.to_string(),
                slug: t.slug,
                name: t.name,
                active: t.status == TenantStatus::Active,
                region: t.default_region,
                created: when(t.created_at),
                storage: super::dashboard::human_bytes(used.get(&t.id).copied().unwrap_or(0)),
            })
            .collect(),
        next: page.next_cursor,
        form,
        problem,
        notice: notice(&query.done, &NOTICES),
    })
}

#[handler]
pub async fn list(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = superadmin_viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "tenants", "read")
            .await?;
        viewer.actor.require_superadmin()?;
        let query: ListQuery = req.params().unwrap_or_default();
        render(state, &viewer, &query, &CreateForm::default(), None).await
    }
    .await;
    finish(req, outcome)
}

#[handler]
pub async fn create(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<CreateForm>,
) -> Response {
    let outcome = async {
        let viewer = superadmin_viewer(state, req).await?;
        check_csrf(req, &viewer, form.csrf.as_deref())?;
        state
            .auth
            .authorize(&viewer.actor, "tenants", "write")
            .await?;
        let created = match form.new_tenant() {
            Ok(new) => state.core.create_tenant(Some(&viewer.actor), new).await,
            Err(err) => Err(err),
        };
        match created {
            Ok(_) => see_other("/console/tenants?done=created"),
            Err(err) => {
                let message = problem(err)?;
                let query = ListQuery::default();
                invalid(render(state, &viewer, &query, &form, Some(message)).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    status: String,
}

#[handler]
pub async fn set_status(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Response {
    let outcome = async {
        let viewer = superadmin_viewer(state, req).await?;
        check_csrf(req, &viewer, form.csrf.as_deref())?;
        state
            .auth
            .authorize(&viewer.actor, "tenants", "write")
            .await?;
        let id = TenantId(path_id(&id, "tenant")?);
        let (status, done) = if form.status == "suspended" {
            (TenantStatus::Suspended, "suspended")
        } else {
            (TenantStatus::Active, "resumed")
        };
        state
            .core
            .set_tenant_status(&viewer.actor, id, status)
            .await?;
        see_other(format!("/console/tenants?done={done}"))
    }
    .await;
    finish(req, outcome)
}
