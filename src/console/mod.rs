//! The server-rendered front door (askama templates under `templates/`):
//! the admin console (`admin`, at `/console`) and the pages emailed links
//! open (`account`, at `/account`).

pub mod account;
pub mod admin;

use askama::Template;
use poem::{
    IntoResponse, Response,
    http::{HeaderValue, StatusCode, header},
    web::Html,
};

use crate::error::{AppError, AppResult};

/// Pages allow no scripts and no framing; forms post to this origin only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Renders a template into an HTML response with the console's headers.
pub fn page(template: &impl Template, status: StatusCode) -> AppResult<Response> {
    let html = template
        .render()
        .map_err(|err| AppError::Internal(anyhow::anyhow!("rendering a page failed: {err}")))?;
    let mut response = Html(html).with_status(status).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
