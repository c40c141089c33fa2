//! The seeds' one-time-code endpoints: `send-otp` and `verify-otp-register`
//! (registration by phone or email), `send-otp-login` and
//! `verify-otp-login`. The same operations answer at `/auth/*` for Backend1
//! (see `aliases`).

use poem::{Request, web::Data};
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{
    Reply, Tag,
    login::{LoginResponse, TokenPair, device, logged_in},
    ok,
};
use crate::{
    domain::{
        otp::{Purpose, Sent, Target},
        values::Name,
    },
    state::AppState,
    wire::participant::ParticipantView,
};

#[derive(Default)]
pub struct OtpApi;

/// Where to send a code: the tenant by slug and `phone` or `email`.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct SendCodeRequest {
    pub tenant: String,
    /// E.164, or national format of the tenant's region: the code goes by SMS.
    pub phone: Option<String>,
    /// The code goes by email.
    pub email: Option<String>,
}

/// A code is on its way (or, for a login code to an unknown account, is not;
/// the answer does not say).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct CodeSent {
    /// Always `true`.
    pub sent: bool,
    /// `sms` or `email`.
    pub channel: String,
    /// The destination, partly hidden.
    pub destination: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds before another code may be asked for.
    pub resend_in: u64,
}

impl From<Sent> for CodeSent {
    fn from(s: Sent) -> Self {
        Self {
            sent: true,
            channel: s.channel.to_owned(),
            destination: s.masked,
            expires_in: s.expires_in_secs,
            resend_in: s.resend_in_secs,
        }
    }
}

/// A code to check, with where it was sent.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct VerifyCodeRequest {
    pub tenant: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The 6 digits received.
    pub code: String,
    /// For a new account; without it the account is named after its phone or email.
    pub name: Option<String>,
    pub device_name: Option<String>,
}

/// Logged in after registering with a code.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct RegisteredResponse {
    #[oai(flatten)]
    pub tokens: TokenPair,
    pub user: ParticipantView,
    /// `false` when the account existed already (the code logged it in).
    pub created: bool,
}

/// Sends a code for `purpose` (both paths).
pub async fn send(
    state: &AppState,
    req: &Request,
    purpose: Purpose,
    body: SendCodeRequest,
) -> Reply<CodeSent> {
    let target = Target::from_fields(body.phone, body.email)?;
    ok(state
        .core
        .send_code(&body.tenant, purpose, target, &device(state, req, None))
        .await?
        .into())
}

/// Registers or logs in with a registration code (both paths).
pub async fn verify_register(
    state: &AppState,
    req: &Request,
    body: VerifyCodeRequest,
) -> Reply<RegisteredResponse> {
    let target = Target::from_fields(body.phone, body.email)?;
    let name = body
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(Name::parse)
        .transpose()?;
    let device = device(state, req, body.device_name);
    let (participant, issued, created) = state
        .core
        .register_with_code(&body.tenant, target, &body.code, name, &device)
        .await?;
    let login = logged_in(state, participant, issued)?;
    ok(RegisteredResponse {
        tokens: login.tokens,
        user: login.user,
        created,
    })
}

/// Logs in with a login code (both paths).
pub async fn verify_login(
    state: &AppState,
    req: &Request,
    body: VerifyCodeRequest,
) -> Reply<LoginResponse> {
    let target = Target::from_fields(body.phone, body.email)?;
    let device = device(state, req, body.device_name);
    let (participant, issued) = state
        .core
        .login_with_code(&body.tenant, target, &body.code, &device)
        .await?;
    ok(logged_in(state, participant, issued)?)
}

#[OpenApi(prefix_path = "/api/auth", tag = "Tag::Auth")]
impl OtpApi {
    /// Send a registration code by SMS (`phone`) or email (`email`)
    ///
    /// Rate-limited per address and per destination, with a resend cooldown
    /// (429 with `Retry-After`).
    #[oai(path = "/send-otp", method = "post")]
    async fn send_otp(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<SendCodeRequest>,
    ) -> Reply<CodeSent> {
        send(state, req, Purpose::Register, body.0).await
    }

    /// Register with a code (or log in, if the account exists)
    ///
    /// Codes are single use, expire (5 minutes by default) and allow 5
    /// tries; the next try fails even with the right code.
    #[oai(path = "/verify-otp-register", method = "post")]
    async fn verify_otp_register(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<VerifyCodeRequest>,
    ) -> Reply<RegisteredResponse> {
        verify_register(state, req, body.0).await
    }

    /// Send a login code; the answer is the same whether the account exists or not
    #[oai(path = "/send-otp-login", method = "post")]
    async fn send_otp_login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<SendCodeRequest>,
    ) -> Reply<CodeSent> {
        send(state, req, Purpose::Login, body.0).await
    }

    /// Log in with a code
    #[oai(path = "/verify-otp-login", method = "post")]
    async fn verify_otp_login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<VerifyCodeRequest>,
    ) -> Reply<LoginResponse> {
        verify_login(state, req, body.0).await
    }
}
