//! `/api/conversations/*`: the caller's conversations. Their messages and
//! receipts are in [`messages`] (`/api/conversations/{id}/messages`,
//! `/delivered`, `/read`), their members in [`members`]
//! (`/api/conversations/{id}/members`, `/mute`).

pub mod members;
pub mod messages;

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Done, PageOf, Reply, Tag, done, ok};
use crate::{
    auth::BearerAuth,
    domain::{
        Actor, ConversationId, ParticipantId,
        conversation::{
            ContextType, ConversationChanges, ConversationType, DirectKey, Filter, NewGroup,
        },
        page_limit,
        values::{Name, optional_text},
    },
    error::AppError,
    state::AppState,
    wire::conversation::ConversationDto,
};

#[derive(Default)]
pub struct ConversationsApi;

/// A new conversation: a direct one with `participantId` (or the seeds'
/// `recipientId`), or a group with `title` and `memberIds`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateConversationRequest {
    /// `group` for a group; otherwise the type follows from the two participants.
    #[oai(rename = "type")]
    pub kind: Option<String>,
    /// The other participant of a direct conversation.
    pub participant_id: Option<uuid::Uuid>,
    /// Same as `participantId` (seed 004).
    pub recipient_id: Option<uuid::Uuid>,
    /// Group members (besides the creator). `participants` is accepted too.
    pub member_ids: Option<Vec<uuid::Uuid>>,
    pub participants: Option<Vec<uuid::Uuid>>,
    /// Group title.
    pub title: Option<String>,
    /// `consultation`, `service_request`, `support` or `general` (default).
    pub context_type: Option<String>,
    /// The tenant's id of the consultation or request.
    pub context_id: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateConversationRequest {
    /// Groups: a new title (owner and admins).
    pub title: Option<String>,
    /// Close (`false`) or reopen (`true`): tenant admins.
    pub is_active: Option<bool>,
}

/// One conversation as the caller sees it (both paths).
pub async fn conversation(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
) -> Reply<ConversationDto> {
    ok(state.core.conversation(actor, id).await?.into())
}

pub(super) fn ids(raw: Option<Vec<uuid::Uuid>>) -> Vec<ParticipantId> {
    raw.unwrap_or_default()
        .into_iter()
        .map(ParticipantId)
        .collect()
}

#[OpenApi(prefix_path = "/api/conversations", tag = "Tag::Conversations")]
impl ConversationsApi {
    /// The caller's conversations by activity, with unread counts and last messages
    ///
    /// `all=true` lets a tenant admin list every conversation of the tenant.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        #[oai(name = "type")] kind: Query<Option<String>>,
        /// `consultation`, `service_request`, `support` or `general`.
        #[oai(name = "contextType")]
        context_type: Query<Option<String>>,
        #[oai(name = "contextId")] context_id: Query<Option<String>>,
        /// Only conversations with this participant.
        with: Query<Option<uuid::Uuid>>,
        /// Only conversations with unread messages.
        unread: Query<Option<bool>>,
        #[oai(name = "isActive")] is_active: Query<Option<bool>>,
        /// Every conversation of the tenant (admins).
        all: Query<Option<bool>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<ConversationDto>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        let filter = Filter {
            kind: kind.0.as_deref().map(ConversationType::parse).transpose()?,
            context_type: context_type
                .0
                .as_deref()
                .map(ContextType::parse)
                .transpose()?,
            context_id: context_id.0,
            is_active: is_active.0,
            with: with.0.map(ParticipantId),
            unread_only: unread.0.unwrap_or(false),
        };
        let all = all.0.unwrap_or(false);
        let page = state
            .core
            .conversations(
                &auth.0,
                &filter,
                all,
                cursor.0.as_deref(),
                page_limit(limit.0),
            )
            .await?;
        ok(PageOf::from_page(page, ConversationDto::from))
    }

    /// Start a conversation: get-or-create a direct one, or create a group
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<CreateConversationRequest>,
    ) -> Reply<ConversationDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let body = body.0;
        let context_type = body
            .context_type
            .as_deref()
            .map(ContextType::parse)
            .transpose()?
            .unwrap_or_default();
        let context_id = optional_text(body.context_id.as_deref(), "contextId", 64)?;
        let group = body.kind.as_deref() == Some("group") || body.title.is_some();
        let created = if group {
            state.auth.authorize(&auth.0, "groups", "write").await?;
            let title = Name::parse(body.title.as_deref().unwrap_or_default())
                .map_err(|_| AppError::validation("a group needs a title of 1-120 characters"))?;
            let mut members = ids(body.member_ids);
            members.extend(ids(body.participants));
            let group = NewGroup {
                title,
                members,
                context_type,
                context_id,
            };
            state.core.create_group(&auth.0, group).await?
        } else {
            let other = body
                .participant_id
                .or(body.recipient_id)
                .or_else(|| body.participants.as_ref().and_then(|p| p.first().copied()))
                .ok_or_else(|| AppError::validation("give participantId for a direct conversation, or a title and memberIds for a group"))?;
            let key = DirectKey {
                other: ParticipantId(other),
                context_type,
                context_id,
            };
            state.core.open_direct(&auth.0, key).await?
        };
        conversation(state, &auth.0, created.id).await
    }

    /// One conversation with its members
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<ConversationDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        conversation(state, &auth.0, ConversationId(id.0)).await
    }

    /// Rename a group or close / reopen a conversation
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<UpdateConversationRequest>,
    ) -> Reply<ConversationDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let changes = ConversationChanges {
            title: body.0.title.as_deref().map(Name::parse).transpose()?,
            is_active: body.0.is_active,
        };
        state
            .core
            .update_conversation(&auth.0, ConversationId(id.0), changes)
            .await?;
        conversation(state, &auth.0, ConversationId(id.0)).await
    }

    /// Delete the conversation for the caller (it comes back with a new message)
    #[oai(path = "/:id", method = "delete")]
    async fn hide(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .hide_conversation(&auth.0, ConversationId(id.0))
            .await?;
        done()
    }
}
