//! `/api/conversations/{id}/messages`, `/delivered` and `/read`: a
//! conversation's messages by seq, sending, and the receipt cursors.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use crate::{
    api::{Reply, Tag, ok},
    auth::BearerAuth,
    domain::{Actor, ConversationId, MessageId, message::Paging},
    error::AppError,
    state::AppState,
    wire::{
        message::{MessageDto, MessagesDto, own_message},
        send::SendMessageRequest,
    },
};

#[derive(Default)]
pub struct ConversationMessagesApi;

/// Move a receipt cursor to `seq`, or (seed 004) to the newest of `messageIds`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CursorRequest {
    pub seq: Option<u64>,
    pub message_ids: Option<Vec<uuid::Uuid>>,
}

/// A member's cursors after a move.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Cursors {
    pub delivered_seq: u64,
    pub read_seq: u64,
}

/// Sends as the caller into a conversation (both paths).
pub async fn send(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
    body: SendMessageRequest,
) -> Reply<MessageDto> {
    state
        .auth
        .authorize(actor, "conversations", "write")
        .await?;
    let message = state
        .core
        .send_message(actor, id, body.into_input()?)
        .await?;
    ok(own_message(message, actor.participant_type()))
}

/// A page of a conversation's messages (both paths).
pub async fn page(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
    paging: Paging,
) -> Reply<MessagesDto> {
    state.auth.authorize(actor, "conversations", "read").await?;
    let page = state.core.messages(actor, id, paging).await?;
    ok(MessagesDto::from_page(
        page,
        actor.participant().ok().map(|(_, me)| me),
    ))
}

#[OpenApi(prefix_path = "/api/conversations", tag = "Tag::Conversations")]
impl ConversationMessagesApi {
    /// Messages by seq: newest first before `before`, or oldest first after `after`
    #[oai(path = "/:id/messages", method = "get")]
    async fn messages(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        /// Only messages with a smaller seq (paging back).
        before: Query<Option<u64>>,
        /// Only messages with a larger seq, oldest first (catching up).
        after: Query<Option<u64>>,
        /// 1-100, default 50.
        limit: Query<Option<u32>>,
    ) -> Reply<MessagesDto> {
        let paging = Paging {
            before: before.0,
            after: after.0,
            limit: limit.0.unwrap_or(50),
        };
        page(state, &auth.0, ConversationId(id.0), paging).await
    }

    /// Send a message
    #[oai(path = "/:id/messages", method = "post")]
    async fn send(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<SendMessageRequest>,
    ) -> Reply<MessageDto> {
        send(state, &auth.0, ConversationId(id.0), body.0).await
    }

    /// Everything up to `seq` reached this device (the cursor only moves forward)
    #[oai(path = "/:id/delivered", method = "post")]
    async fn delivered(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<CursorRequest>,
    ) -> Reply<Cursors> {
        cursor(state, &auth.0, ConversationId(id.0), body.0, false).await
    }

    /// Everything up to `seq` (or the newest of `messageIds`) was read
    #[oai(path = "/:id/read", method = "post")]
    async fn read(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<CursorRequest>,
    ) -> Reply<Cursors> {
        cursor(state, &auth.0, ConversationId(id.0), body.0, true).await
    }
}

async fn cursor(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
    body: CursorRequest,
    read: bool,
) -> Reply<Cursors> {
    state
        .auth
        .authorize(actor, "conversations", "write")
        .await?;
    let member = match (body.seq, body.message_ids) {
        (Some(seq), None) if read => state.core.mark(actor, id, seq, seq).await?,
        (Some(seq), None) => state.core.mark(actor, id, seq, 0).await?,
        (None, Some(messages)) if read => {
            let messages: Vec<MessageId> = messages.into_iter().map(MessageId).collect();
            state.core.mark_read_ids(actor, id, &messages).await?
        }
        _ => {
            return Err(AppError::validation(
                "give `seq` (or, to mark read, `messageIds`)",
            ));
        }
    };
    ok(Cursors {
        delivered_seq: member.delivered_seq,
        read_seq: member.read_seq,
    })
}
