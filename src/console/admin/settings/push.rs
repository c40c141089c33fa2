//! The push credentials on the settings page: the FCM service account and
//! the APNs `.p8` key, set (write-only: the keys are never shown back) or
//! removed. The page shows what names them (project and client email;
//! team, key, bundle and environment) and since when. Same checks
//! (`settings` write) and core calls as `/api/settings/push`.

use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use super::{Render, render};
use crate::{
    console::admin::{
        CsrfOnly,
        common::{invalid, problem, see_other, when, writer},
        finish,
    },
    delivery::push::ApnsEnvironment,
    domain::{
        TenantId,
        device::Platform,
        push::{ApnsInput, PushStatus},
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// The FCM project, as the page shows it.
pub struct FcmRow {
    pub project_id: String,
    pub client_email: String,
    pub since: String,
}

/// The APNs key, as the page shows it (never the key).
pub struct ApnsRow {
    pub team_id: String,
    pub key_id: String,
    pub bundle_id: String,
    pub environment: &'static str,
    pub since: String,
}

/// The APNs form's ids (not the key): what was typed, after a problem, or
/// else what is set.
#[derive(Default, Clone)]
pub struct ApnsFields {
    pub team_id: String,
    pub key_id: String,
    pub bundle_id: String,
    pub environment: String,
}

/// The "Push notifications" section.
pub struct PushView {
    pub fcm: Option<FcmRow>,
    pub apns: Option<ApnsRow>,
    pub apns_form: ApnsFields,
}

/// The section for `tenant`; `typed` refills the APNs form after a problem.
pub(super) async fn view(
    state: &AppState,
    tenant: TenantId,
    typed: Option<ApnsFields>,
) -> AppResult<PushView> {
    let PushStatus { fcm, apns } = state.core.push_status(tenant).await?;
    let fcm = fcm.map(|f| FcmRow {
        project_id: f.project_id,
        client_email: f.client_email,
        since: when(f.updated_at),
    });
    let apns = apns.map(|a| ApnsRow {
        team_id: a.team_id,
        key_id: a.key_id,
        bundle_id: a.bundle_id,
        environment: a.environment.as_str(),
        since: when(a.updated_at),
    });
    let apns_form = typed.unwrap_or_else(|| match &apns {
        Some(a) => ApnsFields {
            team_id: a.team_id.clone(),
            key_id: a.key_id.clone(),
            bundle_id: a.bundle_id.clone(),
            environment: a.environment.to_owned(),
        },
        None => ApnsFields::default(),
    });
    Ok(PushView {
        fcm,
        apns,
        apns_form,
    })
}

#[derive(Deserialize)]
pub struct FcmForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    service_account: String,
}

#[handler]
pub async fn set_fcm(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<FcmForm>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        match state
            .core
            .set_fcm(&viewer.actor, &form.service_account)
            .await
        {
            Ok(_) => see_other("/console/settings?done=fcm-set#push"),
            Err(err) => {
                // Write-only: the JSON holds the private key; none of it is shown back.
                let r = Render {
                    problem: Some(("fcm", problem(err)?)),
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
pub struct ApnsForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    bundle_id: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    key: String,
}

#[handler]
pub async fn set_apns(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<ApnsForm>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        let set = match ApnsEnvironment::from_str_opt(form.environment.trim()) {
            Some(environment) => {
                let input = ApnsInput {
                    team_id: &form.team_id,
                    key_id: &form.key_id,
                    bundle_id: &form.bundle_id,
                    key: &form.key,
                    environment,
                };
                state.core.set_apns(&viewer.actor, input).await
            }
            None => Err(AppError::validation(
                "environment must be production or sandbox",
            )),
        };
        match set {
            Ok(_) => see_other("/console/settings?done=apns-set#push"),
            Err(err) => {
                // The ids come back to be corrected; the key never does.
                let typed = ApnsFields {
                    team_id: form.team_id.trim().to_owned(),
                    key_id: form.key_id.trim().to_owned(),
                    bundle_id: form.bundle_id.trim().to_owned(),
                    environment: form.environment.trim().to_owned(),
                };
                let r = Render {
                    problem: Some(("apns", problem(err)?)),
                    apns_typed: Some(typed),
                    ..Render::default()
                };
                invalid(render(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

/// Removes `fcm` or `apns`: that provider's pushes stop.
#[handler]
pub async fn clear_push(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(provider): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        let platform =
            Platform::from_str_opt(&provider).ok_or(AppError::NotFound("push provider"))?;
        state.core.clear_push(&viewer.actor, platform).await?;
        see_other(format!(
            "/console/settings?done={}-cleared#push",
            platform.as_str()
        ))
    }
    .await;
    finish(req, outcome)
}
