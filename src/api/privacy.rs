//! Privacy (issue 17): a participant's export (`GET /api/users/me/export`;
//! admins: `GET /api/participants/{id}/export`), erasure
//! (`POST /api/participants/{id}/erase`, admins) and the self-service
//! request admins confirm or decline (`POST /api/users/me/erasure-request`,
//! `/api/erasure-requests`). Retention is a setting (`retention`).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Done, Reply, Tag, devices::DeviceView, done, notifications::PreferencesView, ok};
use crate::{
    auth::Caller,
    domain::{
        ParticipantId,
        privacy::{ErasureRequest, Export},
    },
    error::AppError,
    state::AppState,
    wire::{
        call::CallView,
        chat_request::ChatRequestView,
        consultation::ConsultationView,
        message::{MessageDto, MessageRenderer},
        notification::NotificationView,
        participant::ParticipantView,
    },
};

#[derive(Default)]
pub struct PrivacyApi;

/// A live session (a signed-in device).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ExportSession {
    pub id: uuid::Uuid,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A conversation the participant is or was in.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ExportConversation {
    pub conversation_id: uuid::Uuid,
    #[oai(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub role: String,
    pub joined_at: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
}

/// Everything Samvad keeps about one participant.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct ExportView {
    pub exported_at: DateTime<Utc>,
    pub participant: ParticipantView,
    pub sessions: Vec<ExportSession>,
    pub devices: Vec<DeviceView>,
    pub conversations: Vec<ExportConversation>,
    /// The messages they sent, oldest first (the newest 50,000).
    pub messages: Vec<MessageDto>,
    /// More messages were sent than an export carries.
    pub truncated: bool,
    pub calls: Vec<CallView>,
    pub notifications: Vec<NotificationView>,
    pub chat_requests: Vec<ChatRequestView>,
    pub consultations: Vec<ConsultationView>,
    /// What they agreed to be sent: pushes and quiet hours.
    pub consents: PreferencesView,
}

impl From<Export> for ExportView {
    fn from(e: Export) -> Self {
        let renderer = MessageRenderer::new(None, &[], &[]);
        Self {
            exported_at: crate::domain::now(),
            participant: e.participant.into(),
            sessions: e
                .sessions
                .into_iter()
                .map(|s| ExportSession {
                    id: s.id.0,
                    device_name: s.device_name,
                    user_agent: s.user_agent,
                    ip: s.ip,
                    created_at: s.created_at,
                    last_seen: s.last_used_at,
                })
                .collect(),
            devices: e.devices.into_iter().map(Into::into).collect(),
            conversations: e
                .conversations
                .into_iter()
                .map(|m| ExportConversation {
                    conversation_id: m.conversation_id.0,
                    kind: m.kind.as_str().to_owned(),
                    title: m.title,
                    role: m.role,
                    joined_at: m.joined_at,
                    left_at: m.left_at,
                })
                .collect(),
            messages: e.messages.into_iter().map(|m| renderer.render(m)).collect(),
            truncated: e.truncated,
            calls: e.calls.iter().map(CallView::from).collect(),
            notifications: e.notifications.iter().map(NotificationView::from).collect(),
            chat_requests: e.chat_requests.into_iter().map(Into::into).collect(),
            consultations: e.consultations.into_iter().map(Into::into).collect(),
            consents: e.preferences.into(),
        }
    }
}

/// Asking to be erased.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErasureRequestBody {
    /// Why (optional, at most 500 characters).
    pub reason: Option<String>,
}

/// A participant's request to be erased.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErasureRequestView {
    pub id: uuid::Uuid,
    pub participant_id: uuid::Uuid,
    pub reason: Option<String>,
    /// `pending`, `done` (erased) or `declined`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl From<ErasureRequest> for ErasureRequestView {
    fn from(r: ErasureRequest) -> Self {
        Self {
            id: r.id,
            participant_id: r.participant_id.0,
            reason: r.reason,
            status: r.status,
            created_at: r.created_at,
            settled_at: r.settled_at,
        }
    }
}

#[OpenApi(tag = "Tag::Privacy")]
impl PrivacyApi {
    /// Everything Samvad keeps about the caller, as JSON
    #[oai(path = "/api/users/me/export", method = "get")]
    async fn export_own(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<ExportView> {
        state.auth.authorize(&auth.0, "profile", "read").await?;
        ok(state.core.export_own(&auth.0).await?.into())
    }

    /// Everything Samvad keeps about a participant (admins)
    #[oai(path = "/api/participants/:id/export", method = "get")]
    async fn export(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ExportView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let export = state
            .core
            .export_participant(&auth.0, ParticipantId(id.0))
            .await?;
        ok(export.into())
    }

    /// Erase a participant for good: anonymised, signed out, their data deleted (admins)
    #[oai(path = "/api/participants/:id/erase", method = "post")]
    async fn erase(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ParticipantView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let erased = state
            .core
            .erase_participant(&auth.0, ParticipantId(id.0))
            .await?;
        ok(erased.into())
    }

    /// Ask the tenant's admins to erase the caller's account
    #[oai(path = "/api/users/me/erasure-request", method = "post")]
    async fn request(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<ErasureRequestBody>,
    ) -> Reply<ErasureRequestView> {
        state.auth.authorize(&auth.0, "profile", "write").await?;
        ok(state
            .core
            .request_erasure(&auth.0, body.0.reason)
            .await?
            .into())
    }

    /// The tenant's erasure requests, newest first (admins)
    #[oai(path = "/api/erasure-requests", method = "get")]
    async fn requests(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Only those in this status: pending, done, declined.
        status: Query<Option<String>>,
        /// At most this many (1-200; default 50).
        limit: Query<Option<u32>>,
    ) -> Reply<Vec<ErasureRequestView>> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let status = status.0.as_deref().map(str::trim);
        if status.is_some_and(|s| !matches!(s, "pending" | "done" | "declined")) {
            return Err(AppError::validation(
                "status must be pending, done or declined",
            ));
        }
        let limit = limit.0.unwrap_or(50).clamp(1, 200);
        let list = state.core.erasure_requests(&auth.0, status, limit).await?;
        ok(list.into_iter().map(Into::into).collect())
    }

    /// Turn an erasure request down (admins)
    #[oai(path = "/api/erasure-requests/:id/decline", method = "post")]
    async fn decline(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        state.core.decline_erasure(&auth.0, id.0).await?;
        done()
    }
}
