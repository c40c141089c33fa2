//! Signing in to the console and out of it: the login page and form, and
//! logout.

use askama::Template;
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Form, Redirect},
};
use serde::Deserialize;

use super::{
    CsrfOnly, check_csrf, finish, html,
    session::{SESSION_TTL, set_cookie},
    viewer,
};
use crate::{
    domain::{
        Actor, Credential,
        participant::{LoginId, ParticipantType},
        session::Device,
        values::Email,
    },
    error::AppError,
    state::AppState,
};

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    tenant: &'a str,
    email: &'a str,
    next: &'a str,
    problem: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// Only console paths are followed after signing in.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/console") && !next.starts_with("//") && !next.contains("..") {
        next
    } else {
        "/console"
    }
}

#[handler]
pub(super) async fn login_form(req: &Request) -> Response {
    let query: LoginQuery = req.params().unwrap_or_default();
    let page = LoginPage {
        tenant: "",
        email: "",
        next: safe_next(&query.next),
        problem: None,
    };
    finish(req, html(&page))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[handler]
pub(super) async fn login(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<LoginForm>,
) -> Response {
    let outcome = async {
        let device = Device {
            name: Some("Console".to_owned()),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(200).collect()),
            ip: crate::auth::guard::client_ip(req, state.auth.trust_proxy()),
            // The console is this server's own page, not a tenant's app.
            origin: None,
        };
        let retry = |problem: &str| {
            let page = LoginPage {
                tenant: form.tenant.trim(),
                email: form.email.trim(),
                next: safe_next(&form.next),
                problem: Some(problem),
            };
            html(&page).map(|r| r.with_status(StatusCode::UNAUTHORIZED).into_response())
        };
        let Ok(email) = Email::parse(form.email.trim()) else {
            return retry("Enter the email address of your account.");
        };
        let issued = if form.tenant.trim().is_empty() {
            state
                .core
                .superadmin_login(&email, &form.password, &device)
                .await
                .map(|(_, i)| i)
        } else {
            match state
                .core
                .login(
                    form.tenant.trim(),
                    LoginId::Email(email),
                    &form.password,
                    &device,
                )
                .await
            {
                Ok((participant, issued)) if participant.kind == ParticipantType::Admin => {
                    Ok(issued)
                }
                Ok((participant, issued)) => {
                    // Only admins use the console: end the session just opened.
                    let actor = Actor {
                        tenant: issued.tenant,
                        id: participant.id.0,
                        role: issued.role,
                        credential: Credential::Session(issued.session),
                        ip: device.ip.clone(),
                    };
                    state.core.logout(&actor).await?;
                    return retry("The console is for the tenant's admins.");
                }
                Err(err) => Err(err),
            }
        };
        let issued = match issued {
            Ok(issued) => issued,
            Err(AppError::TooManyRequests { .. }) => {
                return retry("Too many attempts. Wait a minute and try again.");
            }
            Err(AppError::Unauthorized { .. }) => {
                return retry("Those details do not match an admin account.");
            }
            Err(err) => return Err(err.into()),
        };
        let token = state.auth.console_token(&issued, SESSION_TTL)?;
        let mut response = Redirect::see_other(safe_next(&form.next)).into_response();
        response.headers_mut().insert(
            header::SET_COOKIE,
            set_cookie(req, state, &token, SESSION_TTL.as_secs()),
        );
        Ok(response)
    }
    .await;
    finish(req, outcome)
}

#[handler]
pub(super) async fn logout(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        check_csrf(req, &viewer, form.csrf.as_deref())?;
        state.core.logout(&viewer.actor).await?;
        let mut response = Redirect::see_other("/console/login").into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, set_cookie(req, state, "", 0));
        Ok(response)
    }
    .await;
    finish(req, outcome)
}
