//! The Agora credentials on the settings page: set them (write-only:
//! nothing typed is shown back) or remove them. Same check (`settings`
//! write) and core calls as `/api/settings/agora`.

use poem::{
    Request, Response, handler,
    web::{Data, Form},
};
use serde::Deserialize;

use super::{Render, render};
use crate::console::admin::common::writer;
use crate::{
    console::admin::{
        CsrfOnly,
        common::{invalid, problem, see_other},
        finish,
    },
    state::AppState,
};

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
