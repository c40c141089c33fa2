//! `/api/chat-requests`: a user asks an astrologer to chat; the astrologer
//! accepts (their conversation opens) or declines.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use crate::{
    api::{Reply, Tag, conversations, ok},
    auth::BearerAuth,
    domain::{
        ChatRequestId, ParticipantId,
        relationship::{ChatRequestStatus, Direction},
        values::optional_text,
    },
    error::AppError,
    state::AppState,
    wire::{chat_request::ChatRequestView, conversation::ConversationDto},
};

#[derive(Default)]
pub struct ChatRequestsApi;

/// Ask an astrologer (`to`, or `astrologerId`) to chat.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChatRequestRequest {
    pub to: Option<uuid::Uuid>,
    pub astrologer_id: Option<uuid::Uuid>,
    /// A few words for the astrologer (at most 500 characters).
    pub note: Option<String>,
}

/// An answered request, and the conversation an acceptance opened.
#[derive(Debug, Object)]
pub struct AnsweredRequest {
    pub request: ChatRequestView,
    pub conversation: Option<ConversationDto>,
}

#[OpenApi(tag = "Tag::Relationships")]
impl ChatRequestsApi {
    /// A user asks an astrologer to chat (a pending request is returned, not doubled)
    #[oai(path = "/api/chat-requests", method = "post")]
    async fn request(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<ChatRequestRequest>,
    ) -> Reply<ChatRequestView> {
        state
            .auth
            .authorize(&auth.0, "chat_requests", "write")
            .await?;
        let body = body.0;
        let to = body
            .to
            .or(body.astrologer_id)
            .ok_or_else(|| AppError::validation("give `to`: the astrologer's id"))?;
        let note = optional_text(body.note.as_deref(), "note", 500)?;
        ok(state
            .core
            .request_chat(&auth.0, ParticipantId(to), note)
            .await?
            .into())
    }

    /// The caller's chat requests, newest first (at most 200): received (default) or sent
    #[oai(path = "/api/chat-requests", method = "get")]
    async fn requests(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        /// `incoming` (default) or `outgoing`.
        direction: Query<Option<String>>,
        /// `pending`, `accepted`, `declined` or `cancelled`.
        status: Query<Option<String>>,
    ) -> Reply<Vec<ChatRequestView>> {
        state
            .auth
            .authorize(&auth.0, "chat_requests", "read")
            .await?;
        let direction = match direction.0.as_deref() {
            None | Some("incoming") => Direction::Incoming,
            Some("outgoing") => Direction::Outgoing,
            Some(_) => {
                return Err(AppError::validation(
                    "direction must be incoming or outgoing",
                ));
            }
        };
        let status = match status.0.as_deref() {
            None => None,
            Some(raw) => Some(
                ChatRequestStatus::from_str_opt(raw)
                    .ok_or_else(|| AppError::validation("unknown status"))?,
            ),
        };
        let requests = state.core.chat_requests(&auth.0, direction, status).await?;
        ok(requests.into_iter().map(ChatRequestView::from).collect())
    }

    /// The astrologer accepts a request: their conversation with the user opens
    #[oai(path = "/api/chat-requests/:id/accept", method = "post")]
    async fn accept(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<AnsweredRequest> {
        answer(state, &auth, id.0, true).await
    }

    /// The astrologer declines a request
    #[oai(path = "/api/chat-requests/:id/decline", method = "post")]
    async fn decline(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<AnsweredRequest> {
        answer(state, &auth, id.0, false).await
    }
}

async fn answer(
    state: &AppState,
    auth: &BearerAuth,
    id: uuid::Uuid,
    accept: bool,
) -> Reply<AnsweredRequest> {
    state
        .auth
        .authorize(&auth.0, "chat_requests", "write")
        .await?;
    let (request, conversation) = state
        .core
        .answer_chat_request(&auth.0, ChatRequestId(id), accept)
        .await?;
    let conversation = match conversation {
        Some(c) => Some(
            conversations::conversation(state, &auth.0, c.id)
                .await?
                .0
                .data,
        ),
        None => None,
    };
    ok(AnsweredRequest {
        request: request.into(),
        conversation,
    })
}
