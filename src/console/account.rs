//! The pages emailed links open: confirming an email address and choosing
//! a new password. They call the same core as `/api/auth/verify-email` and
//! `/api/auth/reset-password`. Opening a link never spends it (mail
//! scanners open links); the form it shows does. The forms carry the
//! link's token, which is also what makes a forged submission useless.

use askama::Template;
use poem::{
    Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Form, Query},
};
use serde::Deserialize;

use super::page;
use crate::{domain::values::Password, error::AppResult, state::AppState};

#[derive(Template)]
#[template(path = "account/message.html")]
struct Message<'a> {
    title: &'a str,
    message: &'a str,
    success: bool,
}

#[derive(Template)]
#[template(path = "account/verify_email.html")]
struct VerifyForm<'a> {
    token: &'a str,
}

#[derive(Template)]
#[template(path = "account/reset_password.html")]
struct ResetForm<'a> {
    token: &'a str,
    problem: Option<&'a str>,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct ResetSubmission {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

const DEAD_LINK: &str =
    "This link is invalid, has expired or was already used. Ask for a new one in the app.";

/// Opening the link only shows a button: mail scanners fetch links, and a
/// GET that spent the token would leave the owner with a dead link.
#[handler]
async fn verify_form(Query(query): Query<TokenQuery>) -> AppResult<Response> {
    page(
        &VerifyForm {
            token: &query.token,
        },
        StatusCode::OK,
    )
}

#[handler]
async fn verify_email(
    Data(state): Data<&AppState>,
    Form(form): Form<TokenQuery>,
) -> AppResult<Response> {
    match state.core.verify_email(&form.token, None).await {
        Ok(account) => {
            let message = format!(
                "Thank you, {}. Your email address is confirmed.",
                account.name
            );
            page(
                &Message {
                    title: "Email confirmed",
                    message: &message,
                    success: true,
                },
                StatusCode::OK,
            )
        }
        Err(err) if err.code() == "invalid_token" => page(
            &Message {
                title: "This link does not work",
                message: DEAD_LINK,
                success: false,
            },
            StatusCode::BAD_REQUEST,
        ),
        Err(err) => Err(err),
    }
}

#[handler]
async fn reset_form(Query(query): Query<TokenQuery>) -> AppResult<Response> {
    page(
        &ResetForm {
            token: &query.token,
            problem: None,
        },
        StatusCode::OK,
    )
}

#[handler]
async fn reset_submit(
    Data(state): Data<&AppState>,
    Form(form): Form<ResetSubmission>,
) -> AppResult<Response> {
    let again = |problem: &str| {
        page(
            &ResetForm {
                token: &form.token,
                problem: Some(problem),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if form.password != form.confirm {
        return again("The two passwords differ.");
    }
    let password = match Password::parse(&form.password) {
        Ok(password) => password,
        Err(err) => return again(&err.to_string()),
    };
    match state
        .core
        .reset_password(&form.token, &password, None)
        .await
    {
        Ok(()) => page(
            &Message {
                title: "Password changed",
                message: "Your new password is set, and you are signed out everywhere. Sign in again in the app.",
                success: true,
            },
            StatusCode::OK,
        ),
        Err(err) if err.code() == "invalid_token" => page(
            &Message {
                title: "This link does not work",
                message: DEAD_LINK,
                success: false,
            },
            StatusCode::BAD_REQUEST,
        ),
        Err(err) => Err(err),
    }
}

/// The routes under `/account`.
pub fn routes() -> Route {
    Route::new()
        .at("/verify-email", get(verify_form).post(verify_email))
        .at("/reset-password", get(reset_form).post(reset_submit))
}
