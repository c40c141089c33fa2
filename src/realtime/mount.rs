//! Serving socketioxide from poem on the API's port.
//!
//! Long-polling requests go through poem's tower compatibility layer. A
//! websocket upgrade cannot: poem keeps hyper's upgrade handle to itself, so
//! socketioxide would answer "no upgrade available". For those this endpoint
//! takes the upgrade from poem, answers `101 Switching Protocols` itself and
//! hands the upgraded stream, with the request head, to socketioxide.

use engineioxide::service::NotFoundService;
use hyper::service::Service as _;
use poem::{
    Endpoint, IntoResponse, Request, Response,
    endpoint::TowerCompatExt,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header},
};
use socketioxide::service::SocketIoService;

use crate::error::envelope_response;

type Svc = SocketIoService<NotFoundService, crate::cluster::Adapter>;

pub struct SocketIoEndpoint {
    svc: Svc,
}

impl SocketIoEndpoint {
    pub fn new(svc: Svc) -> Self {
        Self { svc }
    }

    fn upgrade(&self, req: Request) -> Response {
        let key = req
            .header(header::SEC_WEBSOCKET_KEY)
            .map(|k| tungstenite::handshake::derive_accept_key(k.as_bytes()));
        let version_ok = req.header(header::SEC_WEBSOCKET_VERSION) == Some("13");
        let (Some(accept), true) = (key, version_ok) else {
            return envelope_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "a websocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
            );
        };
        let upgrade = match req.take_upgrade() {
            Ok(upgrade) => upgrade,
            Err(_) => {
                return envelope_response(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "this connection cannot be upgraded",
                );
            }
        };
        let mut head = poem::http::Request::new(());
        *head.method_mut() = req.method().clone();
        *head.uri_mut() = owned_uri(req.uri());
        *head.version_mut() = req.version();
        *head.headers_mut() = owned_headers(req.headers(), |name| KEPT.contains(name));
        let svc = self.svc.clone();
        tokio::spawn(async move {
            match upgrade.await {
                Ok(stream) => {
                    if let Err(err) = svc.call((stream, head)).await {
                        tracing::debug!(error = ?err, "socket.io refused a websocket");
                    }
                }
                Err(err) => tracing::debug!(error = %err, "websocket upgrade failed"),
            }
        });
        let mut response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .finish();
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            response
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

fn is_websocket_upgrade(req: &Request) -> bool {
    req.header(header::UPGRADE)
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
}

impl Endpoint for SocketIoEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if is_websocket_upgrade(&req) {
            return Ok(self.upgrade(req));
        }
        let mut req = req;
        *req.uri_mut() = owned_uri(req.uri());
        *req.headers_mut() = owned_headers(req.headers(), |_| true);
        Ok(self.svc.clone().compat().call(req).await?.into_response())
    }
}

// socketioxide keeps the request head of a socket's first request for the
// socket's life (`req_parts`). hyper parses the URI and header values as
// slices of its connection's read buffer, so a kept clone keeps that whole
// buffer (16 KiB) alive per socket: about half of a connection's memory.
// These copies own just their bytes. A websocket keeps only the headers the
// socket layer reads (`realtime::session`); a long-polling request goes on
// whole, since engine.io reads it.

/// What a websocket's kept head holds besides its URI (the query carries
/// the token and dialect).
const KEPT: [HeaderName; 2] = [header::ORIGIN, HeaderName::from_static("x-forwarded-for")];

fn owned_uri(uri: &Uri) -> Uri {
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

fn owned_headers(headers: &HeaderMap, keep: impl Fn(&HeaderName) -> bool) -> HeaderMap {
    let mut owned = HeaderMap::new();
    for (name, value) in headers.iter().filter(|(name, _)| keep(name)) {
        // Standard names are static; others are copied.
        let name =
            HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        owned.append(name, copy);
    }
    owned
}
