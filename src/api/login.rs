//! `/api/auth/*`: password login, refresh-token rotation, logout, the
//! current user. One-time codes are in `otp`, account flows in `account`,
//! device sessions in `sessions`; `aliases` serves the seeds' direct paths.

use poem::{Request, web::Data};
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{Done, Reply, Tag, done, ok};
use crate::{
    auth::{
        BearerAuth, Tokens,
        guard::{client_ip, origin},
    },
    domain::{
        Actor,
        participant::{LoginId, Participant},
        session::{Device, Issued},
        values::Email,
    },
    error::{AppError, AppResult},
    state::AppState,
    wire::participant::ParticipantView,
};

#[derive(Default)]
pub struct LoginApi;

/// Password login. The tenant is named by its slug; give `email` or `phone`.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct LoginRequest {
    /// Tenant slug, e.g. `demo`.
    pub tenant: String,
    pub email: Option<String>,
    /// E.164, or national format of the tenant's region.
    pub phone: Option<String>,
    pub password: String,
    /// Shown in the session list, e.g. `Pixel 8`.
    pub device_name: Option<String>,
}

/// Tokens of a session: a short-lived access token and a single-use refresh token.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct TokenPair {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single use: each refresh returns a new one; reusing an old one revokes the session.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

impl From<Tokens> for TokenPair {
    fn from(t: Tokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
            token_type: "Bearer".into(),
        }
    }
}

/// A successful login: tokens and the participant.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct LoginResponse {
    #[oai(flatten)]
    pub tokens: TokenPair,
    pub user: ParticipantView,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Where a login comes from.
pub fn device(state: &AppState, req: &Request, name: Option<String>) -> Device {
    Device {
        name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        user_agent: req.header("user-agent").map(str::to_owned),
        ip: client_ip(req, state.auth.trust_proxy()),
        origin: origin(req.headers()).map(str::to_owned),
    }
}

/// Tokens for a session that just started, with its participant.
pub fn logged_in(
    state: &AppState,
    participant: Participant,
    issued: Issued,
) -> AppResult<LoginResponse> {
    Ok(LoginResponse {
        tokens: state.auth.tokens(issued)?.into(),
        user: participant.into(),
    })
}

/// `POST /api/auth/login` (and its alias `/auth/login`).
pub async fn login(state: &AppState, req: &Request, body: LoginRequest) -> Reply<LoginResponse> {
    let login = match (body.email, body.phone) {
        (Some(email), None) => LoginId::Email(Email::parse(&email)?),
        (None, Some(phone)) => LoginId::Phone(phone),
        _ => {
            return Err(AppError::validation(
                "give exactly one of `email` and `phone`",
            ));
        }
    };
    let device = device(state, req, body.device_name);
    let (participant, issued) = state
        .core
        .login(&body.tenant, login, &body.password, &device)
        .await?;
    ok(logged_in(state, participant, issued)?)
}

/// `GET /api/auth/me` (and its alias `/auth/me`).
pub async fn me(state: &AppState, actor: &Actor) -> Reply<ParticipantView> {
    let (tenant, me) = actor.participant().map_err(|_| {
        AppError::forbidden("the superadmin has no participant profile; use /api/platform/me")
    })?;
    state.auth.authorize(actor, "profile", "read").await?;
    ok(state.core.participant(tenant, me).await?.into())
}

#[OpenApi(prefix_path = "/api/auth", tag = "Tag::Auth")]
impl LoginApi {
    /// Log in with tenant slug, email or phone, and password
    ///
    /// Wrong tenant, unknown account and wrong password all answer the same
    /// 401 `invalid_credentials`. Rate-limited per address and per account.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Reply<LoginResponse> {
        login(state, req, body.0).await
    }

    /// Exchange a refresh token for new tokens (the old refresh token is spent)
    #[oai(path = "/refresh", method = "post")]
    async fn refresh(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<RefreshRequest>,
    ) -> Reply<TokenPair> {
        let issued = state
            .core
            .refresh(&body.0.refresh_token, origin(req.headers()))
            .await?;
        ok(state.auth.tokens(issued)?.into())
    }

    /// Log out: revokes this session; its tokens stop working immediately
    #[oai(path = "/logout", method = "post")]
    async fn logout(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<Done> {
        // Authentication only: ending one's own session is never forbidden.
        state.core.logout(&auth.0).await?;
        done()
    }

    /// The logged-in participant
    #[oai(path = "/me", method = "get")]
    async fn me(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<ParticipantView> {
        me(state, &auth.0).await
    }
}
