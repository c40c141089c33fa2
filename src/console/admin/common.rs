//! Helpers shared by the console's administration pages: who may see them
//! (tenant admins or the superadmin, never both), reading form input, and
//! which core errors are shown in the form rather than as an error page.

use chrono::{DateTime, Utc};
use poem::{IntoResponse, Request, http::StatusCode, web::Redirect};

use super::{Fail, Outcome, Viewer, check_csrf, viewer};
use crate::{error::AppError, state::AppState};

/// The viewer of a tenant's page; the superadmin (who has no tenant) gets
/// the "not allowed" page.
pub async fn tenant_viewer(state: &AppState, req: &Request) -> Result<Viewer, Fail> {
    let viewer = viewer(state, req).await?;
    if viewer.is_superadmin() {
        return Err(Fail::App(AppError::forbidden(
            "this page is for a tenant's admins; the superadmin manages tenants",
        )));
    }
    Ok(viewer)
}

/// A tenant admin's form post: the session, the form's CSRF token and
/// `object write`.
pub async fn writer(
    state: &AppState,
    req: &Request,
    csrf: Option<&str>,
    object: &str,
) -> Result<Viewer, Fail> {
    let viewer = tenant_viewer(state, req).await?;
    check_csrf(req, &viewer, csrf)?;
    state.auth.authorize(&viewer.actor, object, "write").await?;
    Ok(viewer)
}

/// The viewer of a platform page: the superadmin only.
pub async fn superadmin_viewer(state: &AppState, req: &Request) -> Result<Viewer, Fail> {
    let viewer = viewer(state, req).await?;
    if !viewer.is_superadmin() {
        return Err(Fail::App(AppError::forbidden(
            "only the platform superadmin manages tenants",
        )));
    }
    Ok(viewer)
}

/// The trimmed text, or `None` when it is empty.
pub fn blank(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

/// A `YYYY-MM-DD` date field (the start of that UTC day); `name` is the
/// field's name in the error.
pub fn day(raw: &str, name: &str) -> Result<Option<DateTime<Utc>>, Fail> {
    blank(raw)
        .map(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                .map_err(|_| {
                    Fail::App(AppError::validation(format!(
                        "{name} must be a date (YYYY-MM-DD)"
                    )))
                })
        })
        .transpose()
}

/// An id from a path; one that does not parse is as unknown as a wrong one.
pub fn path_id(raw: &str, what: &'static str) -> Result<uuid::Uuid, Fail> {
    raw.parse().map_err(|_| Fail::App(AppError::NotFound(what)))
}

/// Post/redirect/get: back to a page after a change.
pub fn see_other(to: impl Into<String>) -> Outcome {
    Ok(Redirect::see_other(to.into()).into_response())
}

/// A form re-rendered with its problem: 422.
pub fn invalid(page: Outcome) -> Outcome {
    Ok(page?
        .with_status(StatusCode::UNPROCESSABLE_ENTITY)
        .into_response())
}

/// The message to show in the form for an error the person can fix
/// (validation, conflicts, refusals of the rules, rate limits); anything
/// else becomes the error page.
pub fn problem(err: AppError) -> Result<String, Fail> {
    match err {
        AppError::Validation { .. }
        | AppError::BadRequest { .. }
        | AppError::Conflict { .. }
        | AppError::TooManyRequests { .. } => Ok(err.to_string()),
        other => Err(other.into()),
    }
}

/// An instant as the console shows it (UTC).
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// A confirmation chosen by a fixed key of the query string (`?done=`), so
/// nothing a visitor typed in a link is shown back.
pub fn notice(done: &str, known: &[(&str, &'static str)]) -> Option<&'static str> {
    known.iter().find(|(key, _)| *key == done).map(|(_, m)| *m)
}
