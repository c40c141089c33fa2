//! The API keys on the settings page: the list's rows, creating a key
//! (its secret shown once) and revoking one. Same checks (`api_keys`) and
//! core calls as `/api/api-keys`.

use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};

use super::{Render, render};
use crate::console::admin::common::writer;
use crate::{
    console::admin::{
        CsrfOnly,
        common::{invalid, path_id, problem, see_other},
        finish,
    },
    domain::{ApiKeyId, Scope, values::Name},
    error::AppError,
    state::AppState,
};

/// An API key in the list.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub last_used: String,
    pub revoked: String,
}

/// Creates a key and shows the page with its secret, this once: it is not
/// redirected, so the secret never sits in a URL or in the history.
#[handler]
pub async fn create_key(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let viewer = writer(state, req, field("_csrf"), "api_keys").await?;
        let name = field("name").unwrap_or_default().to_owned();
        let result = async {
            let parsed = Name::parse(&name)?;
            let scopes = Scope::parse_list(
                form.iter()
                    .filter(|(k, _)| k == "scopes")
                    .map(|(_, v)| v.as_str()),
            )?;
            if scopes.is_empty() {
                return Err(AppError::validation("choose at least one scope"));
            }
            state
                .core
                .create_api_key(&viewer.actor, parsed, scopes)
                .await
        }
        .await;
        match result {
            Ok((key, secret)) => {
                let r = Render {
                    new_key: Some((key.name, secret)),
                    ..Render::default()
                };
                render(state, &viewer, r).await
            }
            Err(err) => {
                let r = Render {
                    problem: Some(("keys", problem(err)?)),
                    key_name: name,
                    ..Render::default()
                };
                invalid(render(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

#[handler]
pub async fn revoke_key(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "api_keys").await?;
        let id = ApiKeyId(path_id(&id, "API key")?);
        match state.core.revoke_api_key(&viewer.actor, id).await {
            Ok(_) => see_other("/console/settings?done=key-revoked#keys"),
            Err(err) => {
                let r = Render {
                    problem: Some(("keys", problem(err)?)),
                    ..Render::default()
                };
                invalid(render(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}
