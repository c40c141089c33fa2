//! Settings: the page that shows the tenant's tunables, its Agora and push
//! credentials and its API keys, and the checks every change shares. The
//! tunables form lives in `form`, the Agora credentials (write-only: the
//! page only says since when they are set) in `agora`, the FCM and APNs
//! credentials (write-only: only the ids that name them are shown) in
//! `push`, the API keys (a new key is shown once) in `keys`. Same checks
//! (`settings`, `api_keys`) and core calls as `/api/settings`,
//! `/api/settings/agora`, `/api/settings/push` and `/api/api-keys`.

mod agora;
mod form;
mod keys;
mod push;

use std::collections::HashMap;

use askama::Template;
use poem::{Request, Response, handler, web::Data};
use serde::Deserialize;

pub use agora::{clear_agora, set_agora};
pub use form::update;
pub use keys::{create_key, revoke_key};
pub use push::{clear_push, set_apns, set_fcm};

use self::{
    form::{Group, groups, values_of},
    keys::KeyRow,
    push::{ApnsFields, PushView},
};
use super::{
    Outcome, Viewer,
    common::{notice, tenant_viewer, when},
    finish, html,
};
use crate::{error::AppError, state::AppState};

const NOTICES: [(&str, &str); 9] = [
    ("saved", "Settings saved."),
    ("agora-set", "Agora credentials saved."),
    (
        "agora-cleared",
        "Agora credentials removed: calls through Agora stop.",
    ),
    ("fcm-set", "FCM credentials saved."),
    (
        "fcm-cleared",
        "FCM credentials removed: pushes to Android phones stop.",
    ),
    ("apns-set", "APNs key saved."),
    ("apns-cleared", "APNs key removed: pushes to iPhones stop."),
    ("key-revoked", "API key revoked: it stops working at once."),
    ("nothing", "Nothing changed."),
];

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    groups: Vec<Group>,
    region: String,
    self_registration: bool,
    /// One per line.
    origins: String,
    agora_since: Option<String>,
    /// The FCM and APNs credentials (never their keys).
    push: PushView,
    /// `None` when the admin's role may not read API keys.
    keys: Option<Vec<KeyRow>>,
    key_name: String,
    /// A key just created: shown this once.
    new_key: Option<(String, String)>,
    /// Which form the problem belongs to: settings, agora, fcm, apns or keys.
    problem_at: &'a str,
    problem: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Default)]
struct Render {
    values: Option<HashMap<String, String>>,
    key_name: String,
    new_key: Option<(String, String)>,
    problem: Option<(&'static str, String)>,
    /// The APNs ids typed into a form that had a problem.
    apns_typed: Option<ApnsFields>,
    done: String,
}

async fn render(state: &AppState, viewer: &Viewer, r: Render) -> Outcome {
    let tenant = state.core.tenant(viewer.actor.tenant()?).await?;
    let values = match r.values {
        Some(values) => values,
        None => values_of(
            &*state.core.settings_of(tenant.id).await?,
            &tenant.default_region,
        ),
    };
    let keys = match state
        .auth
        .authorize(&viewer.actor, "api_keys", "read")
        .await
    {
        Ok(()) => Some(
            state
                .core
                .api_keys(tenant.id)
                .await?
                .into_iter()
                .map(|k| KeyRow {
                    id: k.id.0.to_string(),
                    scopes: k
                        .scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    name: k.name,
                    created: when(k.created_at),
                    last_used: k.last_used_at.map(when).unwrap_or_default(),
                    revoked: k.revoked_at.map(when).unwrap_or_default(),
                })
                .collect(),
        ),
        Err(AppError::Forbidden { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let (problem_at, problem) = match r.problem {
        Some((at, message)) => (at, Some(message)),
        None => ("", None),
    };
    html(&SettingsPage {
        viewer,
        nav: "settings",
        region: values.get("default_region").cloned().unwrap_or_default(),
        self_registration: values.contains_key("allow_self_registration"),
        origins: values.get("allowed_origins").cloned().unwrap_or_default(),
        groups: groups(&values),
        agora_since: state.core.agora_updated_at(tenant.id).await?.map(when),
        push: push::view(state, tenant.id, r.apns_typed).await?,
        keys,
        key_name: r.key_name,
        new_key: r.new_key,
        problem_at,
        problem,
        notice: notice(&r.done, &NOTICES),
    })
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    #[serde(default)]
    done: String,
}

#[handler]
pub async fn show(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "settings", "read")
            .await?;
        let query: DoneQuery = req.params().unwrap_or_default();
        let r = Render {
            done: query.done,
            ..Render::default()
        };
        render(state, &viewer, r).await
    }
    .await;
    finish(req, outcome)
}
