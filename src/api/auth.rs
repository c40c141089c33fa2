//! `/api/auth/*`: password login of tenant participants, refresh-token
//! rotation, logout, and the current user.

use poem::{Request, web::Data};
use poem_openapi::{Object, OpenApi, payload::Json};

use super::{ParticipantView, Reply, Tag, ok};
use crate::{
    app::AppState,
    auth::{BearerAuth, Tokens, guard::client_ip},
    domain::{participant::LoginId, session::Device, values::Email},
    error::AppError,
};

pub struct AuthApi;

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
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub token_type: String,
    pub user: ParticipantView,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// An empty success payload.
#[derive(Debug, Object)]
pub struct Done {
    /// Always `true`.
    pub done: bool,
}

/// Where a login comes from.
pub fn device(state: &AppState, req: &Request, name: Option<String>) -> Device {
    Device {
        name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        user_agent: req.header("user-agent").map(str::to_owned),
        ip: client_ip(req, state.auth.trust_proxy()),
    }
}

#[OpenApi(prefix_path = "/api/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Log in with tenant slug, email or phone, and password
    ///
    /// Wrong tenant, unknown account and wrong password all answer the same
    /// 401 `invalid_credentials`.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        Data(state): Data<&AppState>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Reply<LoginResponse> {
        let body = body.0;
        let login = match (body.email, body.phone) {
            (Some(email), None) => LoginId::Email(Email::parse(&email)?),
            (None, Some(phone)) => LoginId::Phone(phone),
            _ => {
                return Err(AppError::validation(
                    "give exactly one of `email` and `phone`",
                ));
            }
        };
        let (participant, issued) = state
            .core
            .login(
                &body.tenant,
                login,
                &body.password,
                &device(state, req, body.device_name),
            )
            .await?;
        let tokens = state.auth.tokens(issued)?;
        ok(LoginResponse {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
            token_type: "Bearer".into(),
            user: ParticipantView::from(participant),
        })
    }

    /// Exchange a refresh token for new tokens (the old refresh token is spent)
    #[oai(path = "/refresh", method = "post")]
    async fn refresh(
        &self,
        Data(state): Data<&AppState>,
        body: Json<RefreshRequest>,
    ) -> Reply<TokenPair> {
        let issued = state.core.refresh(&body.0.refresh_token).await?;
        ok(state.auth.tokens(issued)?.into())
    }

    /// Log out: revokes this session; its tokens stop working immediately
    #[oai(path = "/logout", method = "post")]
    async fn logout(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<Done> {
        // Authentication only: ending one's own session is never forbidden.
        state.core.logout(&auth.0).await?;
        ok(Done { done: true })
    }

    /// The logged-in participant
    #[oai(path = "/me", method = "get")]
    async fn me(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<ParticipantView> {
        let (tenant, me) = auth.0.participant().map_err(|_| {
            AppError::forbidden("the superadmin has no participant profile; use /api/platform/me")
        })?;
        state.auth.authorize(&auth.0, "profile", "read").await?;
        ok(ParticipantView::from(
            state.core.participant(tenant, me).await?,
        ))
    }
}
