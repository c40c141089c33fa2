//! The admin console under `/console`: tenant admins (and the platform
//! superadmin) sign in with a password; the session lives in an HttpOnly,
//! SameSite=Strict cookie (Secure behind TLS) holding a console token bound
//! to a real device session, so logout, blocking and suspension end it at
//! once. Every state-changing request carries the session's CSRF token.
//! Pages call the same core use cases, after the same casbin checks, as the
//! API.

mod audit;
mod common;
mod pages;
mod participants;
mod policies;
mod settings;
mod tenants;

use askama::Template;
use base64::Engine;
use hmac::{Hmac, Mac};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route,
    error::ResponseError,
    get, handler,
    http::{HeaderValue, StatusCode, header},
    post,
    web::{Data, Form, Html, Redirect},
};
use serde::Deserialize;

use crate::{
    domain::{
        Actor, Credential, Role,
        participant::{LoginId, ParticipantType},
        session::Device,
        values::Email,
    },
    error::AppError,
    middleware::RequestId,
    state::AppState,
};

/// The cookie that carries the console session.
pub const COOKIE: &str = "samvad_console";
/// How long a console session lasts without signing in again.
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// Scripts and styles only from this origin; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, mounted at `/console`.
pub fn routes() -> impl Endpoint {
    Route::new()
        .at("/", get(pages::dashboard))
        .at("/login", get(login_form).post(login))
        .at("/logout", post(logout))
        .at("/conversations", get(pages::conversations))
        .at("/conversations/:id", get(pages::conversation))
        .at(
            "/conversations/:id/messages",
            get(pages::messages_after).post(pages::send),
        )
        .at("/conversations/:id/active", post(pages::set_active))
        .at("/conversations/:id/events", get(pages::events))
        .at("/calls", get(pages::calls))
        .at("/calls.csv", get(pages::calls_csv))
        .at(
            "/participants",
            get(participants::list).post(participants::create),
        )
        .at(
            "/participants/:id",
            get(participants::show).post(participants::update),
        )
        .at("/participants/:id/block", post(participants::block))
        .at(
            "/participants/:id/password",
            post(participants::set_password),
        )
        .at(
            "/participants/:id/reset-link",
            post(participants::reset_link),
        )
        .at(
            "/participants/:id/sessions/revoke",
            post(participants::revoke_sessions),
        )
        .at(
            "/participants/:id/sessions/:session/revoke",
            post(participants::revoke_session),
        )
        .at("/policies", get(policies::list).post(policies::add))
        .at("/policies/remove", post(policies::remove))
        .at("/policies/check", get(policies::check))
        .at("/settings", get(settings::show).post(settings::update))
        .at("/settings/agora", post(settings::set_agora))
        .at("/settings/agora/clear", post(settings::clear_agora))
        .at("/settings/api-keys", post(settings::create_key))
        .at("/settings/api-keys/:id/revoke", post(settings::revoke_key))
        .at("/audit", get(audit::list))
        .at("/tenants", get(tenants::list).post(tenants::create))
        .at("/tenants/:id/status", post(tenants::set_status))
        .at("/static/:name", get(asset))
        .around(|ep, req| async move {
            let mut response = ep.call(req).await?.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
            headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
            Ok(response)
        })
}

/// Who is looking at the console.
pub struct Viewer {
    pub actor: Actor,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
    /// Shown in the header.
    pub name: String,
}

impl Viewer {
    pub fn is_superadmin(&self) -> bool {
        self.actor.role == Role::Superadmin
    }
}

/// Why a console request did not produce its page.
pub enum Fail {
    /// Not signed in (or the session ended): back to the login page.
    Login,
    /// A CSRF token was missing or wrong.
    Csrf,
    App(AppError),
}

impl From<AppError> for Fail {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Unauthorized { .. } => Self::Login,
            other => Self::App(other),
        }
    }
}

pub type Outcome = Result<Response, Fail>;

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// Turns an outcome into the response: errors become a friendly page with
/// the request id (never a stack trace), a lost session the login page.
pub fn finish(req: &Request, outcome: Outcome) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let (status, title, message) = match outcome {
        Ok(response) => return response,
        Err(Fail::Login) => {
            let next = req.original_uri().path();
            let target = if req.method() == poem::http::Method::GET && next != "/console/login" {
                format!("/console/login?next={}", urlencode(next))
            } else {
                "/console/login".to_owned()
            };
            return Redirect::see_other(target).into_response();
        }
        Err(Fail::Csrf) => (
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The page was open too long or came from elsewhere. Go back, reload it and try again."
                .to_owned(),
        ),
        Err(Fail::App(err)) => {
            let status = err.status();
            if status.is_server_error() {
                tracing::error!(error = %err, "console request failed");
            }
            let message = if status.is_server_error() {
                "Something went wrong on our side. It has been logged; quote the request id below."
                    .to_owned()
            } else {
                err.to_string()
            };
            let title = match status {
                StatusCode::NOT_FOUND => "Not found",
                StatusCode::FORBIDDEN => "Not allowed",
                s if s.is_server_error() => "Something went wrong",
                _ => "That did not work",
            };
            (status, title, message)
        }
    };
    let page = ErrorPage {
        title,
        message: &message,
        request_id: &request_id,
    };
    match page.render() {
        Ok(html) => Html(html).with_status(status).into_response(),
        Err(_) => status.into_response(),
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Renders a template into an HTML response.
pub fn html(template: &impl Template) -> Outcome {
    let body = template.render().map_err(|err| {
        Fail::App(AppError::Internal(anyhow::anyhow!(
            "rendering failed: {err}"
        )))
    })?;
    Ok(Html(body).into_response())
}

fn cookie_value(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The session's CSRF token: an HMAC of its id under the JWT secret.
fn csrf_of(state: &AppState, actor: &Actor) -> String {
    let session = match &actor.credential {
        Credential::Session(s) => s.0,
        Credential::ApiKey { key, .. } => key.0,
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(state.config.jwt_secret.expose().as_bytes())
        .expect("HMAC takes any key");
    mac.update(b"samvad console csrf v1:");
    mac.update(session.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The signed-in viewer, or `Fail::Login`. Only admins and the superadmin
/// hold console sessions.
pub async fn viewer(state: &AppState, req: &Request) -> Result<Viewer, Fail> {
    let token = cookie_value(req).ok_or(Fail::Login)?;
    let ip = crate::auth::guard::client_ip(req, state.auth.trust_proxy());
    let actor = state.auth.authenticate(&token, ip).await?;
    if !matches!(actor.role, Role::Admin | Role::Superadmin) {
        return Err(Fail::Login);
    }
    let name = match actor.role {
        Role::Superadmin => "Platform superadmin".to_owned(),
        _ => {
            let (tenant, me) = actor.participant()?;
            state.core.participant(tenant, me).await?.name
        }
    };
    Ok(Viewer {
        csrf: csrf_of(state, &actor),
        actor,
        name,
    })
}

/// Refuses a state-changing request without the session's CSRF token (form
/// field `_csrf`, or the `X-CSRF-Token` header htmx sends).
pub fn check_csrf(req: &Request, viewer: &Viewer, field: Option<&str>) -> Result<(), Fail> {
    let sent = field.map(str::to_owned).or_else(|| {
        req.headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    match sent {
        Some(token) if crate::domain::secrets::same(token.as_bytes(), viewer.csrf.as_bytes()) => {
            Ok(())
        }
        _ => Err(Fail::Csrf),
    }
}

fn set_cookie(req: &Request, state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = state.config.public_url.starts_with("https://")
        || req
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes() == b"https");
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("samvad_console=; Path=/console; Max-Age=0"))
}

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
async fn login_form(req: &Request) -> Response {
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
async fn login(
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

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default, rename = "_csrf")]
    pub csrf: Option<String>,
}

#[handler]
async fn logout(
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

/// The console's own files, compiled into the binary.
#[handler]
async fn asset(req: &Request) -> Response {
    let name = req.path_params::<String>().unwrap_or_default();
    let (body, kind): (&'static [u8], &str) = match name.as_str() {
        "console.css" => (include_bytes!("../../../static/console.css"), "text/css"),
        "console.js" => (
            include_bytes!("../../../static/console.js"),
            "text/javascript",
        ),
        "htmx.min.js" => (
            include_bytes!("../../../static/vendor/htmx-2.0.11.min.js"),
            "text/javascript",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, kind)
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(body)
}
