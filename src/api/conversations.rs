//! `/api/conversations/*`: the caller's conversations, their messages,
//! receipts, and group membership.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    PageOf, Reply, Tag,
    auth::{Done, done},
    messaging::{ConversationDto, MemberView, MessageDto, MessagesDto, own_message},
    ok,
};
use crate::{
    app::AppState,
    auth::BearerAuth,
    domain::{
        Actor, ConversationId, MessageId, ParticipantId,
        conversation::{
            ContextType, ConversationChanges, ConversationType, DirectKey, Filter, MemberRole,
            NewGroup,
        },
        message::{MessageType, Paging, SendInput},
        page_limit,
        participant::ParticipantType,
        values::{Name, optional_text},
    },
    error::{AppError, AppResult},
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

/// A message to send. `text` is accepted for `content`, `messageType` for `type`.
#[derive(Debug, Object, Default)]
#[oai(rename_all = "camelCase")]
pub struct SendMessageRequest {
    pub content: Option<String>,
    pub text: Option<String>,
    /// `text` (default), `image`, `audio` or `file`.
    #[oai(rename = "type")]
    pub kind: Option<String>,
    pub message_type: Option<String>,
    /// Required for image, audio and file.
    pub media_url: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// A message of the same conversation this one answers.
    pub reply_to: Option<uuid::Uuid>,
    /// The client's id for this message: sending it again returns the first one.
    pub client_msg_id: Option<String>,
}

impl SendMessageRequest {
    pub fn into_input(self) -> AppResult<SendInput> {
        let kind = match self.kind.or(self.message_type) {
            Some(kind) => MessageType::parse_sendable(&kind)?,
            None => MessageType::Text,
        };
        Ok(SendInput {
            kind,
            content: self.content.or(self.text),
            media_url: self.media_url,
            metadata: self.metadata,
            reply_to: self.reply_to.map(MessageId),
            client_msg_id: self.client_msg_id,
        })
    }
}

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

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateConversationRequest {
    /// Groups: a new title (owner and admins).
    pub title: Option<String>,
    /// Close (`false`) or reopen (`true`): tenant admins.
    pub is_active: Option<bool>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AddMembersRequest {
    pub member_ids: Vec<uuid::Uuid>,
}

#[derive(Debug, Object)]
pub struct RoleRequest {
    /// `owner` (hands the group over), `admin` or `member`.
    pub role: String,
}

#[derive(Debug, Object)]
pub struct MuteRequest {
    pub muted: bool,
}

/// The caller's participant type, for their own messages' `senderType`.
pub fn sender_type(actor: &Actor) -> Option<ParticipantType> {
    ParticipantType::from_str_opt(actor.role.as_str())
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
    ok(own_message(message, sender_type(actor)))
}

/// A page of a conversation's messages (both paths).
pub async fn messages(
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

/// One conversation as the caller sees it (both paths).
pub async fn conversation(
    state: &AppState,
    actor: &Actor,
    id: ConversationId,
) -> Reply<ConversationDto> {
    ok(state.core.conversation(actor, id).await?.into())
}

fn ids(raw: Option<Vec<uuid::Uuid>>) -> Vec<ParticipantId> {
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
        messages(state, &auth.0, ConversationId(id.0), paging).await
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

    /// The conversation's members
    #[oai(path = "/:id/members", method = "get")]
    async fn members(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<Vec<MemberView>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        let members = state
            .core
            .conversation_members(&auth.0, ConversationId(id.0))
            .await?;
        ok(members.iter().map(MemberView::from).collect())
    }

    /// Add members to a group (its owner and admins)
    #[oai(path = "/:id/members", method = "post")]
    async fn add_members(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<AddMembersRequest>,
    ) -> Reply<Vec<MemberView>> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let id = ConversationId(id.0);
        state
            .core
            .add_members(&auth.0, id, &ids(Some(body.0.member_ids)))
            .await?;
        let members = state.core.conversation_members(&auth.0, id).await?;
        ok(members.iter().map(MemberView::from).collect())
    }

    /// Change a member's role in a group (its owner)
    #[oai(path = "/:id/members/:participantId", method = "patch")]
    async fn set_role(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        #[oai(name = "participantId")] participant_id: Path<uuid::Uuid>,
        body: Json<RoleRequest>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let role = MemberRole::parse(&body.0.role)?;
        state
            .core
            .set_member_role(
                &auth.0,
                ConversationId(id.0),
                ParticipantId(participant_id.0),
                role,
            )
            .await?;
        done()
    }

    /// Remove a member from a group, or leave it (your own id)
    #[oai(path = "/:id/members/:participantId", method = "delete")]
    async fn remove_member(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        #[oai(name = "participantId")] participant_id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .remove_member(
                &auth.0,
                ConversationId(id.0),
                ParticipantId(participant_id.0),
            )
            .await?;
        done()
    }

    /// Mute or unmute the conversation for the caller
    #[oai(path = "/:id/mute", method = "post")]
    async fn mute(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
        body: Json<MuteRequest>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state
            .core
            .set_muted(&auth.0, ConversationId(id.0), body.0.muted)
            .await?;
        done()
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
