//! Settings: the tenant's tunables (OTP codes, rate limits, messages,
//! calls, phone region, allowed origins), its Agora credentials (write-only: the page only
//! says since when they are set) and its API keys (a new key is shown once).
//! Same checks (`settings`, `api_keys`) and core calls as `/api/settings`,
//! `/api/settings/agora` and `/api/api-keys`.

use std::collections::HashMap;

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use super::{
    CsrfOnly, Fail, Outcome, Viewer, check_csrf,
    common::{invalid, notice, path_id, problem, see_other, tenant_viewer, when},
    finish, html,
};
use crate::{
    app::AppState,
    domain::{
        ApiKeyId, Scope,
        settings::{Rate, TenantSettings},
        values::{Name, Region},
    },
    error::{AppError, AppResult},
};

const NOTICES: [(&str, &str); 5] = [
    ("saved", "Settings saved."),
    ("agora-set", "Agora credentials saved."),
    (
        "agora-cleared",
        "Agora credentials removed: calls through Agora stop.",
    ),
    ("key-revoked", "API key revoked: it stops working at once."),
    ("nothing", "Nothing changed."),
];

/// A whole-number setting: form key, label, bounds.
type Number = (&'static str, &'static str, &'static str);
/// A rate setting: form key prefix and label.
type RateSpec = (&'static str, &'static str);

/// The form's sections, in order.
const GROUPS: [(&str, &[Number], &[RateSpec]); 4] = [
    (
        "One-time codes",
        &[
            ("otp_ttl", "Code lifetime (seconds)", "60–3600"),
            (
                "otp_max_attempts",
                "Wrong codes before a code is spent",
                "1–10",
            ),
            (
                "otp_resend_cooldown",
                "Seconds before another code to the same destination",
                "0–3600",
            ),
        ],
        &[
            ("otp_send_per_ip", "Codes sent per IP address"),
            ("otp_send_per_destination", "Codes sent per destination"),
            ("otp_verify_per_ip", "Code checks per IP address"),
            ("otp_verify_per_destination", "Code checks per destination"),
        ],
    ),
    (
        "Sign-in",
        &[],
        &[
            ("login_per_ip", "Logins per IP address"),
            ("login_per_account", "Logins per account"),
        ],
    ),
    (
        "Messages",
        &[
            (
                "max_message_chars",
                "Longest message (characters)",
                "1–20000",
            ),
            (
                "message_edit_window",
                "Edit window after sending (seconds)",
                "0–604800",
            ),
        ],
        &[(
            "messages_per_participant",
            "Messages one participant may send",
        )],
    ),
    (
        "Calls",
        &[
            ("ring_timeout", "Ring timeout (seconds)", "1–600"),
            (
                "call_token_ttl",
                "Call token lifetime (seconds)",
                "60–86400",
            ),
        ],
        &[("calls_per_participant", "Calls one participant may start")],
    ),
];

fn number_mut<'a>(s: &'a mut TenantSettings, key: &str) -> Option<&'a mut u32> {
    Some(match key {
        "otp_ttl" => &mut s.otp_ttl_secs,
        "otp_resend_cooldown" => &mut s.otp_resend_cooldown_secs,
        "max_message_chars" => &mut s.max_message_chars,
        "message_edit_window" => &mut s.message_edit_window_secs,
        "ring_timeout" => &mut s.ring_timeout_secs,
        "call_token_ttl" => &mut s.call_token_ttl_secs,
        _ => return None,
    })
}

fn rate_mut<'a>(s: &'a mut TenantSettings, key: &str) -> Option<&'a mut Rate> {
    Some(match key {
        "otp_send_per_ip" => &mut s.otp_send_per_ip,
        "otp_send_per_destination" => &mut s.otp_send_per_destination,
        "otp_verify_per_ip" => &mut s.otp_verify_per_ip,
        "otp_verify_per_destination" => &mut s.otp_verify_per_destination,
        "login_per_ip" => &mut s.login_per_ip,
        "login_per_account" => &mut s.login_per_account,
        "messages_per_participant" => &mut s.messages_per_participant,
        "calls_per_participant" => &mut s.calls_per_participant,
        _ => return None,
    })
}

/// The form's values for the stored settings.
fn values_of(s: &TenantSettings, region: &str) -> HashMap<String, String> {
    let mut s = s.clone();
    let mut values = HashMap::new();
    for (_, numbers, rates) in GROUPS {
        for (key, _, _) in numbers {
            let value = match *key {
                "otp_max_attempts" => u32::from(s.otp_max_attempts),
                _ => number_mut(&mut s, key).map_or(0, |n| *n),
            };
            values.insert((*key).to_owned(), value.to_string());
        }
        for (key, _) in rates {
            if let Some(rate) = rate_mut(&mut s, key) {
                values.insert(format!("{key}_max"), rate.max.to_string());
                values.insert(format!("{key}_per"), rate.per_secs.to_string());
            }
        }
    }
    values.insert("default_region".into(), region.to_owned());
    values.insert("allowed_origins".into(), s.allowed_origins.join("\n"));
    if s.allow_self_registration {
        values.insert("allow_self_registration".into(), "on".into());
    }
    values
}

/// Reads the form over the current settings; the core validates bounds.
fn parse(values: &HashMap<String, String>, current: &TenantSettings) -> AppResult<TenantSettings> {
    let mut s = current.clone();
    let whole = |key: &str, label: &str| -> AppResult<u32> {
        let raw = values.get(key).map_or("", |v| v.trim());
        raw.parse()
            .map_err(|_| AppError::validation(format!("{label}: enter a whole number")))
    };
    for (_, numbers, rates) in GROUPS {
        for (key, label, _) in numbers {
            let n = whole(key, label)?;
            match *key {
                "otp_max_attempts" => {
                    s.otp_max_attempts = u8::try_from(n)
                        .map_err(|_| AppError::validation(format!("{label}: must be 1-10")))?;
                }
                _ => {
                    if let Some(slot) = number_mut(&mut s, key) {
                        *slot = n;
                    }
                }
            }
        }
        for (key, label) in rates {
            let rate = Rate::new(
                whole(&format!("{key}_max"), label)?,
                whole(&format!("{key}_per"), label)?,
            );
            if let Some(slot) = rate_mut(&mut s, key) {
                *slot = rate;
            }
        }
    }
    s.allow_self_registration = values.contains_key("allow_self_registration");
    // One per line (commas and spaces separate too); the core checks each.
    s.allowed_origins = values
        .get("allowed_origins")
        .map_or("", String::as_str)
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(s)
}

/// A whole-number field as the template shows it.
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub bounds: &'static str,
    pub value: String,
}

/// A rate field: at most `max` per `per` seconds.
pub struct RateField {
    pub key: &'static str,
    pub label: &'static str,
    pub max: String,
    pub per: String,
}

pub struct Group {
    pub title: &'static str,
    pub fields: Vec<Field>,
    pub rates: Vec<RateField>,
}

fn groups(values: &HashMap<String, String>) -> Vec<Group> {
    let get = |key: &str| values.get(key).cloned().unwrap_or_default();
    GROUPS
        .iter()
        .map(|(title, numbers, rates)| Group {
            title,
            fields: numbers
                .iter()
                .map(|(key, label, bounds)| Field {
                    key,
                    label,
                    bounds,
                    value: get(key),
                })
                .collect(),
            rates: rates
                .iter()
                .map(|(key, label)| RateField {
                    key,
                    label,
                    max: get(&format!("{key}_max")),
                    per: get(&format!("{key}_per")),
                })
                .collect(),
        })
        .collect()
}

/// An API key in the list.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub last_used: String,
    pub revoked: String,
}

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
    /// `None` when the admin's role may not read API keys.
    keys: Option<Vec<KeyRow>>,
    key_name: String,
    /// A key just created: shown this once.
    new_key: Option<(String, String)>,
    /// Which form the problem belongs to: settings, agora or keys.
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

/// The session, the form's CSRF token and `object write`.
async fn writer(
    state: &AppState,
    req: &Request,
    csrf: Option<&str>,
    object: &str,
) -> Result<Viewer, Fail> {
    let viewer = tenant_viewer(state, req).await?;
    check_csrf(req, &viewer, csrf)?;
    state.auth.authorize(&viewer.actor, object, "write").await?;
    Ok(viewer)
}

#[handler]
pub async fn update(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        let values: HashMap<String, String> = form.into_iter().collect();
        let viewer = writer(
            state,
            req,
            values.get("_csrf").map(String::as_str),
            "settings",
        )
        .await?;
        let result = async {
            let tenant = viewer.actor.tenant()?;
            let current = state.core.settings_of(tenant).await?;
            let settings = parse(&values, &current)?;
            let region = Region::parse(values.get("default_region").map_or("", String::as_str))?;
            state
                .core
                .update_settings(&viewer.actor, settings, Some(region))
                .await
        }
        .await;
        match result {
            Ok(_) => see_other("/console/settings?done=saved"),
            Err(err) => {
                let r = Render {
                    problem: Some(("settings", problem(err)?)),
                    values: Some(values),
                    ..Render::default()
                };
                invalid(render(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

#[derive(Deserialize)]
pub struct AgoraForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    app_id: String,
    #[serde(default)]
    certificate: String,
}

#[handler]
pub async fn set_agora(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<AgoraForm>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        match state
            .core
            .set_agora(&viewer.actor, &form.app_id, &form.certificate)
            .await
        {
            Ok(_) => see_other("/console/settings?done=agora-set#agora"),
            Err(err) => {
                // Write-only: nothing typed is shown back.
                let r = Render {
                    problem: Some(("agora", problem(err)?)),
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
pub async fn clear_agora(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        state.core.clear_agora(&viewer.actor).await?;
        see_other("/console/settings?done=agora-cleared#agora")
    }
    .await;
    finish(req, outcome)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_back_what_it_shows() {
        let settings = TenantSettings {
            ring_timeout_secs: 42,
            calls_per_participant: Rate::new(7, 600),
            otp_max_attempts: 3,
            allow_self_registration: false,
            allowed_origins: vec!["https://app.example".into(), "http://localhost:3000".into()],
            ..TenantSettings::default()
        };
        let values = values_of(&settings, "IN");
        assert_eq!(
            parse(&values, &TenantSettings::default()).unwrap(),
            settings
        );
    }

    #[test]
    fn a_field_that_is_not_a_number_is_refused() {
        let mut values = values_of(&TenantSettings::default(), "IN");
        values.insert("ring_timeout".into(), "soon".into());
        assert!(parse(&values, &TenantSettings::default()).is_err());
    }
}
