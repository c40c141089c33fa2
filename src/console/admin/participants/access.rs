//! The access actions on a participant's page: block or unblock, set a
//! password or email a reset link, end one session or every session. Each
//! goes through `detail::change`.

use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use super::detail::change;
use crate::{
    console::admin::{CsrfOnly, finish},
    domain::{
        SessionId,
        session::Device,
        values::{Email, Password},
    },
    error::AppError,
    state::AppState,
};

#[derive(Deserialize)]
pub struct BlockForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    blocked: String,
}

#[handler]
pub async fn block(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<BlockForm>,
) -> Response {
    let blocked = form.blocked == "true";
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "access",
        |viewer, id| async move {
            let result = state
                .core
                .set_participant_blocked(&viewer.actor, id, blocked)
                .await
                .map(|_| if blocked { "blocked" } else { "unblocked" });
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    password: String,
}

#[handler]
pub async fn set_password(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "password",
        |viewer, id| async move {
            let result = match Password::parse(&form.password) {
                Ok(password) => state
                    .core
                    .set_participant_password(&viewer.actor, id, &password)
                    .await
                    .map(|()| "password"),
                Err(err) => Err(err),
            };
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

/// Emails the participant the same reset link as "forgot password".
#[handler]
pub async fn reset_link(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "password",
        |viewer, id| async move {
            let result = async {
                let tenant = state.core.tenant(viewer.actor.tenant()?).await?;
                let p = state.core.participant(tenant.id, id).await?;
                let email = p.email.as_deref().ok_or_else(|| {
                    AppError::validation("this participant has no email address to send a link to")
                })?;
                state
                    .core
                    .forgot_password(
                        &tenant.slug,
                        &Email::parse(email)?,
                        // Sent by an admin from the console: no origin to check.
                        &Device {
                            ip: viewer.actor.ip.clone(),
                            ..Device::default()
                        },
                    )
                    .await
                    .map(|()| "reset-sent")
            }
            .await;
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

#[handler]
pub async fn revoke_session(
    req: &Request,
    Data(state): Data<&AppState>,
    Path((id, session)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "sessions",
        |viewer, id| async move {
            let result = match session.parse() {
                Ok(session) => state
                    .core
                    .revoke_participant_session(&viewer.actor, id, SessionId(session))
                    .await
                    .map(|()| "session-ended"),
                Err(_) => Err(AppError::NotFound("session")),
            };
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

#[handler]
pub async fn revoke_sessions(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "sessions",
        |viewer, id| async move {
            let result = state
                .core
                .revoke_participant_sessions(&viewer.actor, id)
                .await
                .map(|_| "sessions-ended");
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}
