//! The seeds' message endpoints (`/api/messages`), on the same core as
//! `/api/conversations/{id}/messages`. They accept both spellings of each
//! field: `conversation`/`conversationId`, `text`/`content`, and
//! `to`/`recipientId` to send into the general conversation with someone.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Reply, Tag, conversations, ok};
use crate::{
    auth::BearerAuth,
    domain::{ConversationId, MessageId, message::Paging},
    error::AppError,
    state::AppState,
    wire::{
        message::{MessageDto, MessageRenderer, MessagesDto, ReactionView, own_message},
        send::{Destination, PostMessageRequest},
    },
};

#[derive(Default)]
pub struct MessagesApi;

/// New text for a message (`content` or `text`).
#[derive(Debug, Object)]
pub struct EditRequest {
    pub content: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Object)]
pub struct ReactRequest {
    /// The emoji; the same one again takes the reaction back.
    pub emoji: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ForwardRequest {
    /// The conversation to forward into.
    pub conversation_id: uuid::Uuid,
}

/// Search results, newest first.
#[derive(Debug, Object)]
pub struct SearchResults {
    pub items: Vec<MessageDto>,
}

#[OpenApi(prefix_path = "/api/messages", tag = "Tag::Messages")]
impl MessagesApi {
    /// Messages of a conversation (`conversation` or `conversationId`), by seq
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        #[oai(name = "conversationId")] conversation_id: Query<Option<uuid::Uuid>>,
        conversation: Query<Option<uuid::Uuid>>,
        before: Query<Option<u64>>,
        after: Query<Option<u64>>,
        limit: Query<Option<u32>>,
    ) -> Reply<MessagesDto> {
        let id = conversation_id
            .0
            .or(conversation.0)
            .ok_or_else(|| AppError::validation("give conversationId"))?;
        let paging = Paging {
            before: before.0,
            after: after.0,
            limit: limit.0.unwrap_or(50),
        };
        conversations::messages::page(state, &auth.0, ConversationId(id), paging).await
    }

    /// Send a message into a conversation, or to a participant directly
    #[oai(path = "/", method = "post")]
    async fn post(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<PostMessageRequest>,
    ) -> Reply<MessageDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let (to, what) = body.0.split()?;
        let id = match to {
            Destination::Conversation(id) => id,
            Destination::Direct(other) => state.core.direct_with(&auth.0, other).await?,
        };
        conversations::messages::send(state, &auth.0, id, what).await
    }

    /// Search the caller's conversations (or one), full text, newest first
    #[oai(path = "/search", method = "get")]
    async fn search(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        /// Words to find (3 letters or more use the full-text index).
        q: Query<String>,
        #[oai(name = "conversationId")] conversation_id: Query<Option<uuid::Uuid>>,
        limit: Query<Option<u32>>,
    ) -> Reply<SearchResults> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        let found = state
            .core
            .search_messages(
                &auth.0,
                &q.0,
                conversation_id.0.map(ConversationId),
                limit.0.unwrap_or(20),
            )
            .await?;
        let me = auth.0.participant().ok().map(|(_, me)| me);
        ok(SearchResults {
            items: MessageRenderer::set(found, me),
        })
    }

    /// Edit the text of one's own message (within the tenant's edit window)
    #[oai(path = "/:id", method = "patch")]
    async fn edit(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<EditRequest>,
    ) -> Reply<MessageDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let content = body
            .0
            .content
            .or(body.0.text)
            .ok_or_else(|| AppError::validation("give the new content"))?;
        let edited = state
            .core
            .edit_message(&auth.0, MessageId(id.0), content)
            .await?;
        let me = auth.0.participant().ok().map(|(_, me)| me);
        match MessageRenderer::set(edited, me).pop() {
            Some(view) => ok(view),
            None => Err(AppError::NotFound("message")),
        }
    }

    /// Delete a message for oneself, or for everyone (`forEveryone=true`)
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        /// Delete for everyone (the sender, group admins, tenant admins).
        #[oai(name = "forEveryone")]
        for_everyone: Query<Option<bool>>,
        /// Same as `forEveryone=true` when `everyone` (Backend's name).
        scope: Query<Option<String>>,
    ) -> Reply<MessageDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let everyone = for_everyone.0.unwrap_or(false) || scope.0.as_deref() == Some("everyone");
        let deleted = state
            .core
            .delete_message(&auth.0, MessageId(id.0), everyone)
            .await?;
        ok(own_message(deleted, None))
    }

    /// React with an emoji; the same emoji again takes it back
    #[oai(path = "/:id/reactions", method = "post")]
    async fn react(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<ReactRequest>,
    ) -> Reply<Vec<ReactionView>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let reactions = state
            .core
            .react(&auth.0, MessageId(id.0), &body.0.emoji)
            .await?;
        ok(reactions.iter().map(ReactionView::from).collect())
    }

    /// Forward a message into another conversation of the caller's
    #[oai(path = "/:id/forward", method = "post")]
    async fn forward(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<ForwardRequest>,
    ) -> Reply<MessageDto> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let copy = state
            .core
            .forward_message(
                &auth.0,
                MessageId(id.0),
                ConversationId(body.0.conversation_id),
            )
            .await?;
        ok(own_message(copy, auth.0.participant_type()))
    }
}
