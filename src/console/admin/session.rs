//! The console session: the cookie holding a console token bound to a real
//! device session, the signed-in [`Viewer`], and the CSRF token every
//! state-changing request carries.

use base64::Engine;
use hmac::{Hmac, Mac};
use poem::{
    Request,
    http::{HeaderValue, header},
};
use serde::Deserialize;

use super::Fail;
use crate::{
    domain::{Actor, Credential, Role},
    state::AppState,
};

/// The cookie that carries the console session.
pub const COOKIE: &str = "samvad_console";
/// How long a console session lasts without signing in again.
pub(super) const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

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

pub(super) fn set_cookie(
    req: &Request,
    state: &AppState,
    value: &str,
    max_age: u64,
) -> HeaderValue {
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

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default, rename = "_csrf")]
    pub csrf: Option<String>,
}
