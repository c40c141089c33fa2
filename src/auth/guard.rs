//! The bearer-token security scheme of the REST API. Handlers take a
//! [`BearerAuth`] argument, which authenticates, then call
//! `Auth::authorize` as their first line.

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use super::Auth;
use crate::{domain::Actor, error::AppError};

/// An authenticated caller (JWT access token in `Authorization: Bearer`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Actor);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Actor> {
    let auth = req
        .data::<Auth>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("Auth missing from request data")))?;
    Ok(auth.authenticate(&bearer.token, client_ip(req)).await?)
}

/// The client's address as the audit log records it.
pub fn client_ip(req: &Request) -> Option<String> {
    req.remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_string())
}
