//! Accounts by email and password: self-registration with a verification
//! link, password reset by emailed link, password change.

use poem::{Request, web::Data};
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{
    Done, Reply, Tag, done,
    login::{LoginResponse, device, logged_in},
    ok,
};
use crate::{
    auth::{BearerAuth, guard::origin},
    domain::{
        account::Registration,
        values::{Email, Name, Password},
    },
    state::AppState,
    wire::participant::ParticipantView,
};

#[derive(Default)]
pub struct AccountApi;

/// A new account of the tenant (a user).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub tenant: String,
    pub name: String,
    pub email: String,
    /// 8-128 characters.
    pub password: String,
    pub phone: Option<String>,
    pub device_name: Option<String>,
}

/// A token from an emailed link.
#[derive(Object)]
pub struct TokenRequest {
    pub token: String,
}

#[derive(Object)]
pub struct ForgotPasswordRequest {
    pub tenant: String,
    pub email: String,
}

#[derive(Object)]
pub struct ResetPasswordRequest {
    /// The token of the emailed link.
    pub token: String,
    /// 8-128 characters.
    pub password: String,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    /// Empty for an account that has no password yet (created by code).
    pub current_password: String,
    /// 8-128 characters.
    pub new_password: String,
}

#[OpenApi(prefix_path = "/api/auth", tag = "Tag::Auth")]
impl AccountApi {
    /// Create an account with email and password; a verification link is emailed
    ///
    /// 403 `registration_closed` when the tenant does not allow it; 409
    /// `email_taken` when the address has an account.
    #[oai(path = "/register", method = "post")]
    async fn register(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<RegisterRequest>,
    ) -> Reply<LoginResponse> {
        let body = body.0;
        let registration = Registration {
            name: Name::parse(&body.name)?,
            email: Email::parse(&body.email)?,
            password: Password::parse(&body.password)?,
            phone: body.phone.filter(|p| !p.trim().is_empty()),
        };
        let device = device(state, req, body.device_name);
        let (participant, issued) = state
            .core
            .register(&body.tenant, registration, &device)
            .await?;
        ok(logged_in(state, participant, issued)?)
    }

    /// Confirm an email address with the token of its link
    #[oai(path = "/verify-email", method = "post")]
    async fn verify_email(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<TokenRequest>,
    ) -> Reply<ParticipantView> {
        let origin = origin(req.headers());
        ok(state.core.verify_email(&body.0.token, origin).await?.into())
    }

    /// Email a new verification link to the logged-in participant
    #[oai(path = "/resend-verification", method = "post")]
    async fn resend_verification(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<Done> {
        state.auth.authorize(&auth.0, "profile", "write").await?;
        state.core.send_email_verification(&auth.0).await?;
        done()
    }

    /// Email a password-reset link; the answer is the same whether the account exists or not
    #[oai(path = "/forgot-password", method = "post")]
    async fn forgot_password(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<ForgotPasswordRequest>,
    ) -> Reply<Done> {
        let email = Email::parse(&body.0.email)?;
        state
            .core
            .forgot_password(&body.0.tenant, &email, &device(state, req, None))
            .await?;
        done()
    }

    /// Set a new password with the token of a reset link; every session ends
    #[oai(path = "/reset-password", method = "post")]
    async fn reset_password(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<ResetPasswordRequest>,
    ) -> Reply<Done> {
        let password = Password::parse(&body.0.password)?;
        state
            .core
            .reset_password(&body.0.token, &password, origin(req.headers()))
            .await?;
        done()
    }

    /// Change the password; every other session of the account ends
    #[oai(path = "/change-password", method = "post")]
    async fn change_password(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<ChangePasswordRequest>,
    ) -> Reply<Done> {
        state.auth.authorize(&auth.0, "profile", "write").await?;
        let new_password = Password::parse(&body.0.new_password)?;
        state
            .core
            .change_password(&auth.0, &body.0.current_password, &new_password)
            .await?;
        done()
    }
}
