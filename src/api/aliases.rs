//! The seeds' direct paths without `/api` (Backend1 called `/auth/...`):
//! the same operations as under `/api/auth`, kept for existing apps and
//! marked deprecated in the spec.

use poem::{Request, web::Data};
use poem_openapi::{OpenApi, payload::Json};

use super::{
    Reply, Tag,
    login::{self, LoginRequest, LoginResponse},
    otp::{self, CodeSent, RegisteredResponse, SendCodeRequest, VerifyCodeRequest},
};
use crate::{
    auth::BearerAuth, domain::otp::Purpose, state::AppState, wire::participant::ParticipantView,
};

#[derive(Default)]
pub struct AliasesApi;

#[OpenApi(prefix_path = "/auth", tag = "Tag::Auth")]
impl AliasesApi {
    /// Same as `POST /api/auth/send-otp`
    #[oai(path = "/send-otp", method = "post", deprecated)]
    async fn send_otp(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<SendCodeRequest>,
    ) -> Reply<CodeSent> {
        otp::send(state, req, Purpose::Register, body.0).await
    }

    /// Same as `POST /api/auth/verify-otp-register`
    #[oai(path = "/verify-otp-register", method = "post", deprecated)]
    async fn verify_otp_register(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<VerifyCodeRequest>,
    ) -> Reply<RegisteredResponse> {
        otp::verify_register(state, req, body.0).await
    }

    /// Same as `POST /api/auth/send-otp-login`
    #[oai(path = "/send-otp-login", method = "post", deprecated)]
    async fn send_otp_login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<SendCodeRequest>,
    ) -> Reply<CodeSent> {
        otp::send(state, req, Purpose::Login, body.0).await
    }

    /// Same as `POST /api/auth/verify-otp-login`
    #[oai(path = "/verify-otp-login", method = "post", deprecated)]
    async fn verify_otp_login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<VerifyCodeRequest>,
    ) -> Reply<LoginResponse> {
        otp::verify_login(state, req, body.0).await
    }

    /// Same as `POST /api/auth/login`
    #[oai(path = "/login", method = "post", deprecated)]
    async fn login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Reply<LoginResponse> {
        login::login(state, req, body.0).await
    }

    /// Same as `GET /api/auth/me`
    #[oai(path = "/me", method = "get", deprecated)]
    async fn me(&self, Data(state): Data<&AppState>, caller: BearerAuth) -> Reply<ParticipantView> {
        login::me(state, &caller.0).await
    }
}
