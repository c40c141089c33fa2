//! The security schemes of the REST API. Handlers take one of these as an
//! argument, which authenticates, then call `Auth::authorize` as their
//! first line:
//! - [`BearerAuth`]: a logged-in session (access token), for what only a
//!   person may do (their profile, their sessions, tenant administration);
//! - [`Caller`]: a session or an API key (`X-Api-Key`), for what a tenant's
//!   integrations may also do; the key's scopes decide through the policy.
//!
//! Both refuse (403 `origin_not_allowed`) a browser request whose `Origin`
//! may not act for the caller's tenant, or the platform: see
//! `Core::check_origin`.

use poem::Request;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme,
    auth::{ApiKey, Bearer},
    registry::Registry,
};

use super::Auth;
use crate::{domain::Actor, error::AppError};

/// An authenticated person (JWT access token in `Authorization: Bearer`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Actor);

/// A tenant's API key in the `X-Api-Key` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-Api-Key",
    key_in = "header",
    checker = "check_api_key"
)]
pub struct ApiKeyAuth(pub Actor);

/// A session or an API key: whichever the request carries (`X-Api-Key`
/// wins when both are sent).
pub struct Caller(pub Actor);

fn auth_of(req: &Request) -> poem::Result<&Auth> {
    Ok(req
        .data::<Auth>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("Auth missing from request data")))?)
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Actor> {
    let auth = auth_of(req)?;
    let actor = auth
        .authenticate(&bearer.token, client_ip(req, auth.trust_proxy()))
        .await?;
    auth.admit_origin(&actor, origin(req.headers())).await?;
    Ok(actor)
}

async fn check_api_key(req: &Request, key: ApiKey) -> poem::Result<Actor> {
    let auth = auth_of(req)?;
    let what = format!("{} {}", req.method(), req.uri().path());
    let actor = auth
        .authenticate_key(&key.key, &what, client_ip(req, auth.trust_proxy()))
        .await?;
    auth.admit_origin(&actor, origin(req.headers())).await?;
    Ok(actor)
}

impl<'a> ApiExtractor<'a> for Caller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <BearerAuth as ApiExtractor>::register(registry);
        <ApiKeyAuth as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = <BearerAuth as ApiExtractor>::security_schemes();
        schemes.extend(<ApiKeyAuth as ApiExtractor>::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        body: &mut poem::RequestBody,
        _: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        if req.headers().contains_key("x-api-key") {
            let key = <ApiKeyAuth as ApiExtractor>::from_request(
                req,
                body,
                ExtractParamOptions::default(),
            )
            .await?;
            Ok(Self(key.0))
        } else {
            let bearer = <BearerAuth as ApiExtractor>::from_request(
                req,
                body,
                ExtractParamOptions::default(),
            )
            .await?;
            Ok(Self(bearer.0))
        }
    }
}

/// The request's `Origin` header. One that is not text reads as `null` (an
/// opaque origin, which no list names) rather than as no header at all.
pub fn origin(headers: &poem::http::HeaderMap) -> Option<&str> {
    headers
        .get(poem::http::header::ORIGIN)
        .map(|value| value.to_str().unwrap_or("null"))
}

/// The client's address: the peer, or with `SAMVAD_TRUST_PROXY` the address
/// the trusted proxy added ([`forwarded_for`]).
pub fn client_ip(req: &Request, trust_proxy: bool) -> Option<String> {
    if trust_proxy && let Some(last) = forwarded_for(req.headers()) {
        return Some(last);
    }
    req.remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_string())
}

/// The last address of `X-Forwarded-For`, the one the trusted proxy added:
/// the last of its last line, since a proxy may add a line of its own
/// rather than append to the client's. (Everything before it is whatever
/// the client wrote; trusting that would let anyone pick their address and
/// dodge per-address limits.)
pub fn forwarded_for(headers: &poem::http::HeaderMap) -> Option<String> {
    let line = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last = line.to_str().ok()?.rsplit(',').next()?.trim();
    last.parse::<std::net::IpAddr>()
        .is_ok()
        .then(|| last.to_owned())
}
