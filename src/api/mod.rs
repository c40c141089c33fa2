//! The REST front door (poem-openapi). Handlers parse input, authenticate
//! (a [`BearerAuth`](crate::auth::BearerAuth) argument), authorize explicitly
//! as their first line, call the core and shape the seeds' envelope.
//!
//! One module per area; each is an `#[OpenApi]` impl whose operations carry
//! a summary (the `///` line), a tag, and the error responses of
//! [`AppError`]. The generated spec is served at `/api/openapi.json`.

pub mod account;
pub mod admin_channel;
pub mod aliases;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod calls;
pub mod conversations;
pub mod direct_paths;
pub mod health;
pub mod messages;
pub mod messaging;
pub mod otp;
pub mod participants;
pub mod platform;
pub mod policies;
pub mod presence;
pub mod relationships;
pub mod sessions;
pub mod settings;
pub mod spec;
pub mod users;

pub use spec::{docs_html, spec_json};

use poem_openapi::{
    Object, OpenApiService, Tags,
    payload::Json,
    types::{ParseFromJSON, ToJSON, Type},
};

use crate::{
    domain::{Page, participant::Participant},
    error::AppResult,
};

/// Tags group operations in the docs UI.
#[derive(Tags)]
pub enum Tag {
    /// Liveness and readiness
    Health,
    /// Login, tokens and sessions
    Auth,
    /// Platform administration (superadmin)
    Platform,
    /// Account management by tenant admins
    Participants,
    /// The tenant directory and one's own profile (the seeds' user endpoints)
    Users,
    /// The tenant's authorization rules (casbin)
    Policies,
    /// Who did what
    Audit,
    /// The tenant's tunables
    Settings,
    /// Keys for third parties (`X-Api-Key`)
    ApiKeys,
    /// Conversations, their members and receipts
    Conversations,
    /// Messages: send, edit, delete, react, forward, search
    Messages,
    /// Consultations, chat requests, contacts and blocks
    Relationships,
    /// Voice and video calls (Agora), their lifecycle and history
    Calls,
}

/// The success envelope: `{"success": true, "data": ...}`.
#[derive(Debug, Object)]
pub struct Envelope<T: ParseFromJSON + ToJSON + Type> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
}

/// The response type of every operation.
pub type Reply<T> = AppResult<Json<Envelope<T>>>;

/// Wraps `data` in the success envelope.
pub fn ok<T: ParseFromJSON + ToJSON + Type>(data: T) -> Reply<T> {
    Ok(Json(Envelope {
        success: true,
        data,
    }))
}

/// One page of a list; pass `nextCursor` back as `cursor` for the next.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PageOf<T: ParseFromJSON + ToJSON + Type> {
    pub items: Vec<T>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ParseFromJSON + ToJSON + Type> PageOf<T> {
    pub fn from_page<U>(page: Page<U>, view: impl Fn(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(view).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// A participant as the API shows it. Both spellings the seeds use are
/// present: `id`/`uid`/`userId`, `type`/`role`, `avatar`/`avatarUrl`.
/// `email` and `phone` are shown to admins and to the participant only (the
/// core removes them for everyone else).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ParticipantView {
    pub id: uuid::Uuid,
    pub uid: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    /// `user`, `astrologer` or `admin`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Same as `type`.
    pub role: String,
    pub name: String,
    pub email: Option<String>,
    /// Whether a code or a link proved the email is the participant's.
    pub email_verified: bool,
    pub phone: Option<String>,
    /// Whether a code proved the phone is the participant's.
    pub phone_verified: bool,
    pub avatar: Option<String>,
    pub avatar_url: Option<String>,
    /// The participant's status line.
    pub status: Option<String>,
    pub blocked: bool,
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The participant as the core returned it (already redacted for the viewer).
impl From<Participant> for ParticipantView {
    fn from(p: Participant) -> Self {
        Self {
            id: p.id.0,
            uid: p.id.0,
            user_id: p.id.0,
            tenant_id: p.tenant_id.0,
            kind: p.kind.as_str().to_owned(),
            role: p.kind.as_str().to_owned(),
            name: p.name,
            email_verified: p.email.is_some() && p.email_verified_at.is_some(),
            phone_verified: p.phone.is_some() && p.phone_verified_at.is_some(),
            email: p.email,
            phone: p.phone,
            avatar: p.avatar_url.clone(),
            avatar_url: p.avatar_url,
            status: p.status_text,
            blocked: p.blocked,
            last_seen: p.last_seen_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// The operations of every area, for the route table and the spec.
pub type Apis = (
    (
        health::HealthApi,
        auth::AuthApi,
        otp::OtpApi,
        account::AccountApi,
        sessions::SessionsApi,
    ),
    (
        platform::PlatformApi,
        participants::ParticipantsApi,
        users::UsersApi,
        policies::PoliciesApi,
    ),
    (
        audit::AuditApi,
        settings::SettingsApi,
        api_keys::ApiKeysApi,
        aliases::AliasesApi,
    ),
    (
        conversations::ConversationsApi,
        messages::MessagesApi,
        admin_channel::AdminChannelApi,
        relationships::RelationshipsApi,
        presence::PresenceApi,
        calls::CallsApi,
    ),
);

/// The OpenAPI service: operations plus the spec's metadata. The operations
/// hold no state (they read [`AppState`] from request data), so the spec can
/// be generated without a database.
pub fn service() -> OpenApiService<Apis, ()> {
    let apis = Apis::default();
    OpenApiService::new(apis, "Samvad", env!("CARGO_PKG_VERSION")).description(
        "Multi-tenant communication platform for consultation marketplaces. \
             Every response uses the envelope `{\"success\": true, \"data\": ...}`; errors are \
             `{\"success\": false, \"error\": {\"code\", \"message\"}, \"message\"}`.",
    )
}
