//! The relationship facts behind the messaging rules: consultations
//! (recorded by the tenant's backend), chat requests (users ask
//! astrologers), contact sync and blocking.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    PageOf, ParticipantView, Reply, Tag,
    auth::{Done, done},
    messaging::ConversationDto,
    ok,
};
use crate::{
    app::AppState,
    auth::{BearerAuth, Caller},
    domain::{
        ChatRequestId, ConsultationId, ParticipantId,
        conversation::DirectKey,
        page_limit,
        relationship::{
            ChatRequest, ChatRequestStatus, Consultation, ConsultationFilter, ConsultationStatus,
            Direction,
        },
        values::optional_text,
    },
    error::AppError,
};

#[derive(Default)]
pub struct RelationshipsApi;

/// A consultation between a user and an astrologer.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConsultationView {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub astrologer_id: uuid::Uuid,
    /// `requested`, `active`, `completed` or `cancelled`.
    pub status: String,
    /// The tenant's own id for it.
    pub external_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Consultation> for ConsultationView {
    fn from(c: Consultation) -> Self {
        Self {
            id: c.id.0,
            user_id: c.user_id.0,
            astrologer_id: c.astrologer_id.0,
            status: c.status.as_str().to_owned(),
            external_id: c.external_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Record a consultation; with a known `externalId` it is updated instead.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RecordConsultationRequest {
    pub user_id: uuid::Uuid,
    pub astrologer_id: uuid::Uuid,
    /// `requested`, `active` (default), `completed` or `cancelled`.
    pub status: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Object)]
pub struct StatusRequest {
    pub status: String,
}

/// A chat request.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChatRequestView {
    pub id: uuid::Uuid,
    pub from_id: uuid::Uuid,
    pub to_id: uuid::Uuid,
    /// `pending`, `accepted`, `declined` or `cancelled`.
    pub status: String,
    pub note: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ChatRequest> for ChatRequestView {
    fn from(r: ChatRequest) -> Self {
        Self {
            id: r.id.0,
            from_id: r.from_id.0,
            to_id: r.to_id.0,
            status: r.status.as_str().to_owned(),
            note: r.note,
            created_at: r.created_at,
            answered_at: r.answered_at,
        }
    }
}

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

#[derive(Debug, Object)]
pub struct SyncRequest {
    /// Phone numbers from the address book (E.164 or national format).
    pub phones: Vec<String>,
}

/// A number of the address book that belongs to a participant.
#[derive(Debug, Object)]
pub struct ContactMatch {
    /// As it was sent.
    pub phone: String,
    pub participant: ParticipantView,
}

/// Start chatting with someone by `participantId` or `phone`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct StartChatRequest {
    pub participant_id: Option<uuid::Uuid>,
    pub phone: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct BlockRequest {
    pub participant_id: uuid::Uuid,
}

#[OpenApi(tag = "Tag::Relationships")]
impl RelationshipsApi {
    /// Record a consultation (the tenant's backend: admins or keys with `write`)
    #[oai(path = "/api/consultations", method = "post")]
    async fn record(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<RecordConsultationRequest>,
    ) -> Reply<ConsultationView> {
        state
            .auth
            .authorize(&auth.0, "consultations", "write")
            .await?;
        let body = body.0;
        let status = body
            .status
            .as_deref()
            .map(ConsultationStatus::parse)
            .transpose()?
            .unwrap_or(ConsultationStatus::Active);
        let external = optional_text(body.external_id.as_deref(), "externalId", 64)?;
        let recorded = state
            .core
            .record_consultation(
                &auth.0,
                ParticipantId(body.user_id),
                ParticipantId(body.astrologer_id),
                status,
                external,
            )
            .await?;
        ok(recorded.into())
    }

    /// Consultations: every one for admins and keys, one's own otherwise
    #[oai(path = "/api/consultations", method = "get")]
    async fn consultations(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        #[oai(name = "userId")] user_id: Query<Option<uuid::Uuid>>,
        #[oai(name = "astrologerId")] astrologer_id: Query<Option<uuid::Uuid>>,
        status: Query<Option<String>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<ConsultationView>> {
        state
            .auth
            .authorize(&auth.0, "consultations", "read")
            .await?;
        let filter = ConsultationFilter {
            user: user_id.0.map(ParticipantId),
            astrologer: astrologer_id.0.map(ParticipantId),
            status: status
                .0
                .as_deref()
                .map(ConsultationStatus::parse)
                .transpose()?,
        };
        let page = state
            .core
            .consultations(&auth.0, &filter, cursor.0.as_deref(), page_limit(limit.0))
            .await?;
        ok(PageOf::from_page(page, ConsultationView::from))
    }

    /// Change a consultation's status
    #[oai(path = "/api/consultations/:id", method = "patch")]
    async fn set_status(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
        body: Json<StatusRequest>,
    ) -> Reply<ConsultationView> {
        state
            .auth
            .authorize(&auth.0, "consultations", "write")
            .await?;
        let status = ConsultationStatus::parse(&body.0.status)?;
        ok(state
            .core
            .set_consultation_status(&auth.0, ConsultationId(id.0), status)
            .await?
            .into())
    }

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

    /// Which address-book numbers belong to participants the caller may see
    #[oai(path = "/api/contacts/sync", method = "post")]
    async fn sync(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<SyncRequest>,
    ) -> Reply<Vec<ContactMatch>> {
        state.auth.authorize(&auth.0, "directory", "read").await?;
        let found = state
            .core
            .participants_by_phones(&auth.0, &body.0.phones)
            .await?;
        ok(found
            .into_iter()
            .map(|(phone, p)| ContactMatch {
                phone,
                participant: p.into(),
            })
            .collect())
    }

    /// Open the direct conversation with a participant (by id or phone)
    #[oai(path = "/api/contacts/start-chat", method = "post")]
    async fn start_chat(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<StartChatRequest>,
    ) -> Reply<ConversationDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let other = match (body.0.participant_id, body.0.phone) {
            (Some(id), None) => ParticipantId(id),
            (None, Some(phone)) => {
                let found = state
                    .core
                    .participants_by_phones(&auth.0, std::slice::from_ref(&phone))
                    .await?;
                found
                    .into_iter()
                    .next()
                    .map(|(_, p)| p.id)
                    .ok_or(AppError::NotFound("participant"))?
            }
            _ => {
                return Err(AppError::validation(
                    "give exactly one of `participantId` and `phone`",
                ));
            }
        };
        let conversation = state
            .core
            .open_direct(&auth.0, DirectKey::general(other))
            .await?;
        super::conversations::conversation(state, &auth.0, conversation.id).await
    }

    /// Block a participant: neither may message or call the other
    #[oai(path = "/api/blocks", method = "post")]
    async fn block(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<BlockRequest>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .block(&auth.0, ParticipantId(body.0.participant_id))
            .await?;
        done()
    }

    /// The participants the caller blocked
    #[oai(path = "/api/blocks", method = "get")]
    async fn blocks(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<Vec<uuid::Uuid>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        ok(state
            .core
            .blocked_by(&auth.0)
            .await?
            .into_iter()
            .map(|p| p.0)
            .collect())
    }

    /// Lift a block
    #[oai(path = "/api/blocks/:participantId", method = "delete")]
    async fn unblock(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        #[oai(name = "participantId")] participant_id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .unblock(&auth.0, ParticipantId(participant_id.0))
            .await?;
        done()
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
            super::conversations::conversation(state, &auth.0, c.id)
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
