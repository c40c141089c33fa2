//! How a console request ends: [`Outcome`] and [`Fail`], [`finish`] (the
//! page, the friendly error page or the way back to the login), [`html`].

use askama::Template;
use poem::{
    IntoResponse, Request, Response,
    error::ResponseError,
    http::StatusCode,
    web::{Html, Redirect},
};

use crate::{error::AppError, middleware::RequestId};

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

pub(super) fn urlencode(text: &str) -> String {
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
