//! The REST front door (poem-openapi). Handlers parse input, authenticate
//! (a [`BearerAuth`](crate::auth::BearerAuth) argument), authorize explicitly
//! as their first line, call the core and shape the seeds' envelope.
//!
//! One module per area; each is an `#[OpenApi]` impl whose operations carry
//! a summary (the `///` line), a tag, and the error responses of
//! [`AppError`](crate::error::AppError). The generated spec is served at `/api/openapi.json`.

pub mod account;
pub mod admin_channel;
pub mod aliases;
pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod conversations;
pub mod devices;
pub mod direct_paths;
pub mod files;
pub mod health;
pub mod login;
pub mod message_uploads;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod otp;
pub mod participants;
pub mod platform;
pub mod policies;
pub mod presence;
pub mod privacy;
pub mod push;
pub mod relationships;
pub mod sessions;
pub mod settings;
pub mod spec;
pub mod upload;
pub mod users;
pub mod webhooks;

pub use spec::{docs_html, spec_json};

use poem_openapi::{
    Object, OpenApiService, Tags,
    payload::Json,
    types::{ParseFromJSON, ToJSON, Type},
};

use crate::{domain::Page, error::AppResult};

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
    /// Files: uploads, photos, voice notes and documents, signed links
    Files,
    /// The caller's in-app inbox and push devices
    Notifications,
    /// Consultations, chat requests, contacts and blocks
    Relationships,
    /// Voice and video calls (Agora), their lifecycle and history
    Calls,
    /// Signed webhooks to the tenant's endpoints (Standard Webhooks)
    Webhooks,
    /// Reports and the contact guard's flags
    Moderation,
    /// Export, erasure and erasure requests
    Privacy,
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

/// An empty success payload.
#[derive(Debug, Object)]
pub struct Done {
    /// Always `true`.
    pub done: bool,
}

/// The success payload of actions without a result.
pub fn done() -> Reply<Done> {
    ok(Done { done: true })
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

/// The operations of every area, for the route table and the spec.
pub type Apis = (
    (
        health::HealthApi,
        login::LoginApi,
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
        conversations::messages::ConversationMessagesApi,
        conversations::members::ConversationMembersApi,
        messages::MessagesApi,
        admin_channel::AdminChannelApi,
        relationships::consultations::ConsultationsApi,
        relationships::chat_requests::ChatRequestsApi,
        relationships::contacts::ContactsApi,
        relationships::blocks::BlocksApi,
        presence::PresenceApi,
        calls::CallsApi,
    ),
    (
        message_uploads::MessageUploadsApi,
        files::FilesApi,
        notifications::NotificationsApi,
        devices::DevicesApi,
        push::PushApi,
        webhooks::WebhooksApi,
        moderation::ModerationApi,
        privacy::PrivacyApi,
    ),
);

/// The OpenAPI service: operations plus the spec's metadata. The operations
/// hold no state (they read [`AppState`](crate::state::AppState) from request data), so the spec can
/// be generated without a database.
pub fn service() -> OpenApiService<Apis, ()> {
    let apis = Apis::default();
    OpenApiService::new(apis, "Samvad", env!("CARGO_PKG_VERSION")).description(
        "Multi-tenant communication platform for consultation marketplaces. \
             Every response uses the envelope `{\"success\": true, \"data\": ...}`; errors are \
             `{\"success\": false, \"error\": {\"code\", \"message\"}, \"message\"}`.",
    )
}
