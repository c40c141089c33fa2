//! Webhooks: the tenant's endpoints (the list, the form that adds one,
//! turning one off or on, replacing its secret, deleting it) here, and
//! each endpoint's page with its delivery log in `log`. A signing secret
//! is shown once, on the page the add or replace form posts to: it is not
//! redirected, so the secret never sits in a URL or in the history. Same
//! checks (`settings` read to view, write to change) and core calls as
//! `/api/webhooks`.

mod log;

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

pub use log::{resend, show};

use super::{
    CsrfOnly, Fail, Outcome, Viewer,
    common::{blank, invalid, notice, path_id, problem, see_other, tenant_viewer, when, writer},
    finish, html,
};
use crate::{
    domain::webhook::{Endpoint, EndpointInput, EndpointUpdate, EventType},
    error::AppError,
    state::AppState,
};

const NOTICES: [(&str, &str); 4] = [
    ("on", "Endpoint turned on: new events are sent to it again."),
    (
        "off",
        "Endpoint turned off: nothing is sent to it, and its waiting deliveries are given up.",
    ),
    ("deleted", "Endpoint deleted, with its delivery log."),
    (
        "resent",
        "The delivery is queued: it is sent again within seconds, with the same webhook-id.",
    ),
];

/// An endpoint as the pages show it (never its secret).
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Its event types, comma-separated.
    pub events: String,
    pub enabled: bool,
    /// Why it is off (Samvad's reason, or an admin's doing).
    pub off_because: String,
    /// Empty when its last delivery went through.
    pub failing_since: String,
    pub created: String,
}

fn endpoint_row(e: Endpoint) -> EndpointRow {
    EndpointRow {
        id: e.id.to_string(),
        url: e.url,
        description: e.description.unwrap_or_default(),
        events: e.event_types.0.join(", "),
        enabled: e.enabled,
        off_because: e
            .disabled_reason
            .unwrap_or_else(|| "turned off by an admin".to_owned()),
        failing_since: e.failing_since.map(when).unwrap_or_default(),
        created: when(e.created_at),
    }
}

/// An event type's checkbox in the add form.
pub struct EventBox {
    pub name: &'static str,
    pub checked: bool,
}

/// What the add form holds: empty, or what was typed before a problem.
#[derive(Default)]
struct Typed {
    url: String,
    description: String,
    events: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct ListPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    endpoints: Vec<EndpointRow>,
    /// Whether the viewer may change them (else no forms are shown).
    may_write: bool,
    url: String,
    description: String,
    boxes: Vec<EventBox>,
    /// A secret just made, with its endpoint's URL: shown this once.
    secret: Option<(String, String)>,
    problem: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Default)]
struct Render {
    typed: Typed,
    secret: Option<(String, String)>,
    problem: Option<String>,
    done: String,
}

/// Whether the viewer may change webhooks (`settings write`).
async fn may_write(state: &AppState, viewer: &Viewer) -> Result<bool, Fail> {
    match state
        .auth
        .authorize(&viewer.actor, "settings", "write")
        .await
    {
        Ok(()) => Ok(true),
        Err(AppError::Forbidden { .. }) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

async fn render_list(state: &AppState, viewer: &Viewer, r: Render) -> Outcome {
    let endpoints = state.core.webhook_endpoints(&viewer.actor).await?;
    let boxes = EventType::ALL
        .iter()
        .map(|t| EventBox {
            name: t.as_str(),
            checked: r.typed.events.iter().any(|e| e == t.as_str()),
        })
        .collect();
    html(&ListPage {
        viewer,
        nav: "webhooks",
        endpoints: endpoints.into_iter().map(endpoint_row).collect(),
        may_write: may_write(state, viewer).await?,
        url: r.typed.url,
        description: r.typed.description,
        boxes,
        secret: r.secret,
        problem: r.problem,
        notice: notice(&r.done, &NOTICES),
    })
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    #[serde(default)]
    done: String,
}

#[handler]
pub async fn list(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        (state.auth)
            .authorize(&viewer.actor, "settings", "read")
            .await?;
        let query: DoneQuery = req.params().unwrap_or_default();
        let r = Render {
            done: query.done,
            ..Render::default()
        };
        render_list(state, &viewer, r).await
    }
    .await;
    finish(req, outcome)
}

/// Adds an endpoint (on at once) and shows the page with its secret, this
/// once. Problems come back in the form, with what was typed.
#[handler]
pub async fn create(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let viewer = writer(state, req, blank(field("_csrf")), "settings").await?;
        let typed = Typed {
            url: field("url").trim().to_owned(),
            description: field("description").trim().to_owned(),
            events: form
                .iter()
                .filter(|(k, _)| k == "event_types")
                .map(|(_, v)| v.trim().to_owned())
                .collect(),
        };
        let made = if typed.url.is_empty() {
            Err(AppError::validation("enter the URL of the endpoint"))
        } else if typed.events.is_empty() {
            Err(AppError::validation(
                "choose at least one event type to send",
            ))
        } else {
            let input = EndpointInput {
                url: typed.url.clone(),
                description: blank(&typed.description).map(str::to_owned),
                event_types: typed.events.clone(),
                enabled: true,
            };
            state.core.create_webhook(&viewer.actor, input).await
        };
        match made {
            Ok(made) => {
                let r = Render {
                    secret: Some((made.endpoint.url, made.secret)),
                    ..Render::default()
                };
                render_list(state, &viewer, r).await
            }
            Err(err) => {
                let r = Render {
                    problem: Some(problem(err)?),
                    typed,
                    ..Render::default()
                };
                invalid(render_list(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    /// `true` or `false`.
    #[serde(default)]
    enabled: String,
    /// `endpoint` when posted from the endpoint's own page (back there).
    #[serde(default)]
    from: String,
}

/// Turns an endpoint on (clearing why Samvad turned it off) or off (its
/// waiting deliveries are given up).
#[handler]
pub async fn set_enabled(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<EnabledForm>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        let id = path_id(&id, "webhook")?;
        let on = match form.enabled.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(AppError::validation("enabled must be true or false").into()),
        };
        let update = EndpointUpdate {
            enabled: Some(on),
            ..Default::default()
        };
        state.core.update_webhook(&viewer.actor, id, update).await?;
        let done = if on { "on" } else { "off" };
        match form.from.as_str() {
            "endpoint" => see_other(format!("/console/webhooks/{id}?done={done}")),
            _ => see_other(format!("/console/webhooks?done={done}")),
        }
    }
    .await;
    finish(req, outcome)
}

/// Replaces an endpoint's secret at once and shows the new one, this once.
#[handler]
pub async fn rotate_secret(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        let id = path_id(&id, "webhook")?;
        let made = state.core.rotate_webhook_secret(&viewer.actor, id).await?;
        let r = Render {
            secret: Some((made.endpoint.url, made.secret)),
            ..Render::default()
        };
        render_list(state, &viewer, r).await
    }
    .await;
    finish(req, outcome)
}

/// Deletes an endpoint and its delivery log.
#[handler]
pub async fn delete(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        let id = path_id(&id, "webhook")?;
        state.core.delete_webhook(&viewer.actor, id).await?;
        see_other("/console/webhooks?done=deleted")
    }
    .await;
    finish(req, outcome)
}
