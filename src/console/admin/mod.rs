//! The admin console under `/console`: tenant admins (and the platform
//! superadmin) sign in with a password; the session lives in an HttpOnly,
//! SameSite=Strict cookie (Secure behind TLS) holding a console token bound
//! to a real device session, so logout, blocking and suspension end it at
//! once. Every state-changing request carries the session's CSRF token.
//! Pages call the same core use cases, after the same casbin checks, as the
//! API.

mod audit;
mod calls;
mod common;
mod conversations;
mod dashboard;
mod login;
mod moderation;
mod notifications;
mod participants;
mod policies;
mod respond;
mod session;
mod settings;
mod tenants;
mod webhooks;

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler,
    http::{HeaderValue, StatusCode, header},
    post,
};

use respond::urlencode;
pub use respond::{Fail, Outcome, finish, html};
pub use session::{COOKIE, CsrfOnly, Viewer, check_csrf, viewer};

/// Scripts and styles only from this origin; no framing. Images, audio
/// and video only from this origin too: the files' signed links, absolute
/// to the public URL, which is the console's own.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   media-src 'self'; connect-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, mounted at `/console`.
pub fn routes() -> impl Endpoint {
    Route::new()
        .at("/", get(dashboard::dashboard))
        .at("/login", get(login::login_form).post(login::login))
        .at("/logout", post(login::logout))
        .at("/conversations", get(conversations::conversations))
        .at("/conversations/:id", get(conversations::conversation))
        .at(
            "/conversations/:id/messages",
            get(conversations::messages_after).post(conversations::send),
        )
        .at("/conversations/:id/active", post(conversations::set_active))
        .at("/conversations/:id/events", get(conversations::events))
        .at("/calls", get(calls::calls))
        .at("/calls.csv", get(calls::calls_csv))
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
        .at("/settings/push/fcm", post(settings::set_fcm))
        .at("/settings/push/apns", post(settings::set_apns))
        .at("/settings/push/:provider/clear", post(settings::clear_push))
        .at("/settings/api-keys", post(settings::create_key))
        .at("/settings/api-keys/:id/revoke", post(settings::revoke_key))
        .at("/webhooks", get(webhooks::list).post(webhooks::create))
        .at("/webhooks/:id", get(webhooks::show))
        .at("/webhooks/:id/enabled", post(webhooks::set_enabled))
        .at("/webhooks/:id/secret", post(webhooks::rotate_secret))
        .at("/webhooks/:id/delete", post(webhooks::delete))
        .at(
            "/webhooks/:id/deliveries/:delivery/resend",
            post(webhooks::resend),
        )
        .at("/moderation", get(moderation::list))
        .at("/moderation/guard", post(moderation::save_guard))
        .at("/moderation/reports/:id", get(moderation::show))
        .at("/moderation/reports/:id/dismiss", post(moderation::dismiss))
        .at(
            "/moderation/reports/:id/block-participant",
            post(moderation::block),
        )
        .at(
            "/moderation/reports/:id/delete-message",
            post(moderation::delete_message),
        )
        .at("/notifications", get(notifications::show))
        .at("/notifications/broadcast", post(notifications::broadcast))
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
