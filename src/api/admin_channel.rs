//! Seed 004's admin and astrologer channel: an admin's conversation with
//! an astrologer by the astrologer's id, and an astrologer's conversation
//! with their admins. Both are direct conversations of the core.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Reply, Tag, conversations, ok};
use crate::{
    auth::BearerAuth,
    domain::{Actor, ConversationId, ParticipantId, message::Paging},
    error::AppResult,
    state::AppState,
    wire::{
        conversation::ConversationDto,
        message::{MessageDto, MessagesDto},
        send::SendMessageRequest,
    },
};

#[derive(Default)]
pub struct AdminChannelApi;

/// A conversation with its newest messages.
#[derive(Debug, Object)]
pub struct ConversationWithMessages {
    pub conversation: ConversationDto,
    pub messages: MessagesDto,
}

fn paging(before: Option<u64>, after: Option<u64>, limit: Option<u32>) -> Paging {
    Paging {
        before,
        after,
        limit: limit.unwrap_or(50),
    }
}

async fn admin_side(
    state: &AppState,
    actor: &Actor,
    astrologer: uuid::Uuid,
) -> AppResult<ConversationId> {
    state
        .auth
        .authorize(actor, "conversations", "write")
        .await?;
    Ok(state
        .core
        .admin_conversation_with(actor, ParticipantId(astrologer))
        .await?
        .id)
}

async fn astrologer_side(state: &AppState, actor: &Actor) -> AppResult<ConversationId> {
    state
        .auth
        .authorize(actor, "conversations", "write")
        .await?;
    Ok(state.core.astrologer_admin_conversation(actor).await?.id)
}

async fn with_messages(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
) -> Reply<ConversationWithMessages> {
    let conversation = conversations::conversation(state, actor, id).await?.0.data;
    let messages = conversations::messages::page(state, actor, id, paging(None, None, None))
        .await?
        .0
        .data;
    ok(ConversationWithMessages {
        conversation,
        messages,
    })
}

#[OpenApi(tag = "Tag::Conversations")]
impl AdminChannelApi {
    /// Admin: the conversation with an astrologer (created if needed), with its newest messages
    #[oai(path = "/api/admin/conversations/:astrologerId", method = "get")]
    async fn admin_conversation(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        #[oai(name = "astrologerId")] astrologer_id: Path<uuid::Uuid>,
    ) -> Reply<ConversationWithMessages> {
        let id = admin_side(state, &auth.0, astrologer_id.0).await?;
        with_messages(state, &auth.0, id).await
    }

    /// Admin: messages of the conversation with an astrologer
    #[oai(
        path = "/api/admin/conversations/:astrologerId/messages",
        method = "get"
    )]
    async fn admin_messages(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        #[oai(name = "astrologerId")] astrologer_id: Path<uuid::Uuid>,
        before: Query<Option<u64>>,
        after: Query<Option<u64>>,
        limit: Query<Option<u32>>,
    ) -> Reply<MessagesDto> {
        let id = admin_side(state, &auth.0, astrologer_id.0).await?;
        conversations::messages::page(state, &auth.0, id, paging(before.0, after.0, limit.0)).await
    }

    /// Admin: send to an astrologer
    #[oai(
        path = "/api/admin/conversations/:astrologerId/messages",
        method = "post"
    )]
    async fn admin_send(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        #[oai(name = "astrologerId")] astrologer_id: Path<uuid::Uuid>,
        body: Json<SendMessageRequest>,
    ) -> Reply<MessageDto> {
        let id = admin_side(state, &auth.0, astrologer_id.0).await?;
        conversations::messages::send(state, &auth.0, id, body.0).await
    }

    /// Astrologer: the conversation with the admins (created if needed), with its newest messages
    #[oai(path = "/api/conversations/admin", method = "get")]
    async fn astrologer_conversation(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<ConversationWithMessages> {
        let id = astrologer_side(state, &auth.0).await?;
        with_messages(state, &auth.0, id).await
    }

    /// Astrologer: messages of the conversation with the admins
    #[oai(path = "/api/conversations/admin/messages", method = "get")]
    async fn astrologer_messages(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        before: Query<Option<u64>>,
        after: Query<Option<u64>>,
        limit: Query<Option<u32>>,
    ) -> Reply<MessagesDto> {
        let id = astrologer_side(state, &auth.0).await?;
        conversations::messages::page(state, &auth.0, id, paging(before.0, after.0, limit.0)).await
    }

    /// Astrologer: send to the admins
    #[oai(path = "/api/conversations/admin/messages", method = "post")]
    async fn astrologer_send(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<SendMessageRequest>,
    ) -> Reply<MessageDto> {
        let id = astrologer_side(state, &auth.0).await?;
        conversations::messages::send(state, &auth.0, id, body.0).await
    }
}
