//! HTTP middleware shared by the API and the console: request ids, access
//! logs and security headers; the body-size limit; CORS.

use std::{sync::Arc, time::Instant};

use poem::{
    Body, Endpoint, IntoResponse, Request, Response, Result,
    http::{HeaderValue, Method, header},
    middleware::Cors,
};
use tracing::Instrument;

use crate::{
    config::{Config, CorsOrigins},
    domain::Core,
    error::{AppError, render_any_error},
};

/// The request id, in request extensions for handlers and error pages.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

/// Accepts a caller's request id when it is short and plain, else makes one.
fn request_id(req: &Request) -> String {
    req.header(REQUEST_ID)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// `/api/users/` is `/api/users`: clients written against Express's
/// forgiving router send trailing slashes.
fn strip_trailing_slash(req: &mut Request) {
    let path = req.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let path_and_query = match req.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(uri) = poem::http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// Outermost layer: gives every request an id (echoed in `x-request-id`),
/// runs it inside a tracing span, renders any escaped error as the envelope,
/// adds the security headers to every response, and writes one access-log
/// line.
pub async fn request_context<E: Endpoint>(ep: Arc<E>, mut req: Request) -> Result<Response> {
    strip_trailing_slash(&mut req);
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    crate::api::direct_paths::rewrite(&mut req);
    let span = tracing::info_span!("request", id = %id, %method, %path);
    let started = Instant::now();
    let mut response = async {
        match ep.call(req).await {
            Ok(output) => output.into_response(),
            Err(err) => render_any_error(err).await,
        }
    }
    .instrument(span.clone())
    .await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let status = response.status().as_u16();
    let took = started.elapsed();
    let route = response.data::<poem::PathPattern>().map(|p| &*p.0);
    crate::metrics::http_request(
        crate::metrics::route_label(route),
        method.as_str(),
        status,
        took,
    );
    let ms = took.as_millis() as u64;
    // Socket.IO long-polls come every few seconds per client: debug level.
    if path.starts_with("/socket.io") && status < 400 {
        span.in_scope(|| tracing::debug!(status, ms, "served"));
    } else {
        span.in_scope(|| tracing::info!(status, ms, "served"));
    }
    Ok(response)
}

/// Refuses bodies over `limit` bytes with 413: at once when Content-Length
/// says so, otherwise (chunked bodies) while reading.
pub async fn limit_body<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    limit: usize,
) -> Result<Response> {
    // Uploads are bounded while they stream, by the tenant's limits.
    if crate::api::upload::is_upload_path(req.uri().path()) {
        return Ok(ep.call(req).await?.into_response());
    }
    let declared = req
        .header(header::CONTENT_LENGTH)
        .and_then(|len| len.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => return Err(AppError::PayloadTooLarge { limit }.into()),
        Some(_) => {}
        None if req.method() != Method::GET && req.method() != Method::HEAD => {
            let body = req.take_body();
            let bytes = body
                .into_bytes_limit(limit)
                .await
                .map_err(|_| AppError::PayloadTooLarge { limit })?;
            req.set_body(Body::from_bytes(bytes));
        }
        None => {}
    }
    Ok(ep.call(req).await?.into_response())
}

/// CORS from `SAMVAD_CORS_ORIGINS`. Bearer tokens travel in a header, so
/// credentials (cookies) are not allowed cross-origin.
///
/// With a list, an origin is also let in when it is this server's own
/// (`SAMVAD_PUBLIC_URL`: the console's forms send it) or when some tenant
/// lists it in its settings, since a preflight names no tenant. Whether a
/// request from it may act is decided where its tenant (or the lack of
/// one) is known, by `Core::check_origin`: only for the tenants listing it.
pub fn cors(config: &Config, core: &Core) -> Cors {
    let cors = Cors::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers(["authorization", "content-type", "x-api-key", REQUEST_ID])
        .expose_header(REQUEST_ID)
        .allow_credentials(false)
        .max_age(600);
    match &config.cors_origins {
        CorsOrigins::Any => cors,
        CorsOrigins::List(list) => {
            let core = core.clone();
            cors.allow_origins(list.iter().map(String::as_str))
                .allow_origins_fn(move |origin| {
                    core.is_own_origin(origin) || core.origin_is_known(origin)
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_caller_request_ids_are_kept_and_others_replaced() {
        let req = Request::builder().header(REQUEST_ID, "abc-123_X").finish();
        assert_eq!(request_id(&req), "abc-123_X");
        let req = Request::builder().header(REQUEST_ID, "bad id\n").finish();
        assert_ne!(request_id(&req), "bad id\n");
        let req = Request::builder()
            .header(REQUEST_ID, "x".repeat(65))
            .finish();
        assert_eq!(request_id(&req).len(), 36);
    }
}
