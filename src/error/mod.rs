//! The one error type of Samvad, and how it reaches the wire.
//!
//! # Error policy
//! - Every failure a client can cause is an [`AppError`] variant whose HTTP
//!   status is fixed by the variant (documented on each). Clients receive the
//!   seeds' envelope: `{"success":false,"error":{"code","message"},"message"}`.
//! - `code` is a stable snake_case word that clients may branch on; `message`
//!   is for humans and may change.
//! - Database and other internal failures become [`AppError::Internal`]: the
//!   cause is logged with the request id, the client sees a generic 500.
//!   Bad input must never end there: validate at the edge instead.
//! - Errors raised by poem itself (malformed JSON, missing fields, unknown
//!   routes, wrong methods) are rewritten into the same envelope by
//!   [`render_any_error`], so there is exactly one error shape on the wire.
//! - A missing object and an object of another tenant are the same
//!   [`AppError::NotFound`]: existence never leaks across tenants.

use poem::{IntoResponse, Response, error::ResponseError, http::StatusCode};
use poem_openapi::{
    ApiResponse, Object,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use serde_json::json;

mod database;
pub use database::{is_connection_lost, is_deadlock, is_unique_violation, is_unreachable};

/// The result type of the core and of every handler.
pub type AppResult<T> = Result<T, AppError>;

/// Everything that can go wrong, by what the client should do about it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request cannot be understood (malformed JSON, bad id syntax).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no credentials, or credentials that are invalid, expired or revoked.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated, but the policy or a rule forbids this action.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: the object does not exist *in the caller's tenant*.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the request conflicts with current state (duplicate, wrong state).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413: the body exceeds the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 413: an upload passes a limit of its own (its kind's size, the
    /// tenant's storage quota).
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// 415: an upload of a type that is not taken (a program, a kind the
    /// tenant does not allow).
    #[error("{message}")]
    UnsupportedMedia { code: &'static str, message: String },
    /// 422: well-formed but invalid values (bad email, empty name...).
    #[error("{message}")]
    Validation { code: &'static str, message: String },
    /// 429: too many requests; retry after the given number of seconds.
    #[error("too many requests; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: a dependency (the database) is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// 503: more sends are in progress than the server takes at once
    /// (`SAMVAD_SEND_QUEUE`); retry after a second.
    #[error("the server is over capacity; retry in 1 s")]
    Overloaded,
    /// 500: a bug or an infrastructure failure; logged, never detailed to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// Whether this is MySQL choosing the transaction as a deadlock's
    /// victim: it was rolled back, and the work may simply be run again.
    pub fn is_deadlock(&self) -> bool {
        let Self::Internal(err) = self else {
            return false;
        };
        err.downcast_ref::<sqlx::Error>().is_some_and(is_deadlock)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "bad_request",
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            code: "validation_failed",
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The stable machine-readable code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::TooLarge { code, .. }
            | Self::UnsupportedMedia { code, .. }
            | Self::Validation { code, .. } => code,
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Overloaded => "overloaded",
            Self::Internal(_) => "internal",
        }
    }

    /// The failure envelope as JSON, for answers outside HTTP (Socket.IO
    /// acks). Internal errors are logged here, as `as_response` does.
    pub fn envelope(&self) -> serde_json::Value {
        if let Self::Internal(err) = self {
            tracing::error!(error = ?err, "internal error");
        }
        let message = self.client_message();
        let mut body = json!({
            "success": false,
            "error": { "code": self.code(), "message": message },
            "message": message,
        });
        if let Some(secs) = self.retry_after() {
            body["error"]["retryAfter"] = json!(secs);
        }
        body
    }

    /// Seconds after which a retry may succeed (`Retry-After`), if any.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            Self::Overloaded => Some(1),
            _ => None,
        }
    }

    fn client_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; the request id identifies it in the logs".into(),
            other => other.to_string(),
        }
    }

    /// The answer while the database is out of reach ([`is_unreachable`]).
    pub fn unreachable() -> Self {
        Self::Unavailable("the database is unreachable; try again shortly".into())
    }
}

/// The `error` member of the envelope.
#[derive(Debug, Object)]
pub struct ErrorBody {
    /// Stable snake_case code (`not_found`, `validation_failed`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// The failure envelope: `{"success":false,"error":{code,message},"message"}`.
#[derive(Debug, Object)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
    /// Same as `error.message` (older clients read it here).
    pub message: String,
}

/// Builds the failure envelope response for a status, code and message.
pub fn envelope_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "success": false,
        "error": { "code": code, "message": message },
        "message": message,
    });
    poem::web::Json(body).with_status(status).into_response()
}

impl ResponseError for AppError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } | Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMedia { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        if let Self::Internal(err) = self {
            tracing::error!(error = ?err, "internal error");
        }
        let mut response = envelope_response(self.status(), self.code(), &self.client_message());
        if let Some(secs) = self.retry_after() {
            response.headers_mut().insert("retry-after", secs.into());
        }
        response
    }
}

/// Documents the error statuses every operation may answer with.
impl ApiResponse for AppError {
    fn meta() -> MetaResponses {
        let described = [
            (
                400,
                "Malformed request: bad JSON, wrong types, bad id syntax",
            ),
            (401, "Missing, invalid, expired or revoked credentials"),
            (403, "The caller's role may not do this"),
            (
                404,
                "No such object in the caller's tenant, or unknown route",
            ),
            (
                409,
                "Conflicts with the current state (duplicate, wrong state)",
            ),
            (413, "Body larger than the configured limit"),
            (
                415,
                "The body is not `application/json` (operations that take one)",
            ),
            (422, "Well-formed but invalid values"),
            (429, "Rate limited; see the Retry-After header"),
            (500, "Internal error; the x-request-id header identifies it"),
            (
                503,
                "A dependency (the database) is unreachable, or the server is over capacity \
                 (`overloaded`, with Retry-After); retry shortly",
            ),
        ];
        MetaResponses {
            responses: described
                .into_iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: ErrorEnvelope::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ErrorEnvelope::register(registry);
    }
}

/// Renders any error escaping the route tree as the envelope. Errors that are
/// already an [`AppError`] keep their code; poem's own errors get a code from
/// their status, and their message (which names the bad field) is kept for
/// client errors only.
pub async fn render_any_error(err: poem::Error) -> Response {
    if let Some(app) = err.downcast_ref::<AppError>() {
        return app.as_response();
    }
    let status = err.status();
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", err.to_string()),
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required".to_owned()),
        StatusCode::FORBIDDEN => ("forbidden", err.to_string()),
        StatusCode::NOT_FOUND => ("not_found", "no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "method not allowed on this route".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", err.to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json".to_owned(),
        ),
        s if s.is_client_error() => ("bad_request", err.to_string()),
        _ => {
            tracing::error!(error = %err, status = %status, "unhandled error");
            (
                "internal",
                "internal error; the request id identifies it in the logs".to_owned(),
            )
        }
    };
    let mut response = envelope_response(status, code, &message);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        // poem's router keeps the Allow header on the error response.
        let original = err.into_response();
        if let Some(allow) = original.headers().get("allow") {
            response.headers_mut().insert("allow", allow.clone());
        }
    }
    response
}
