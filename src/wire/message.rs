//! Messages on the wire, rendered once for both front doors. Both
//! spellings the seeds' clients read are present (`conversationId`/
//! `conversation`, `content`/`text`, `senderId`/`sender`/`from`,
//! `type`/`messageType`).

use poem_openapi::Object;

use super::file::FileView;

use crate::domain::{
    ParticipantId,
    conversation::MemberInfo,
    message::{Message, MessagePage, MessageSet, Reaction},
    participant::ParticipantType,
};

/// One participant's reaction.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReactionView {
    pub participant_id: uuid::Uuid,
    pub emoji: String,
}

impl From<&Reaction> for ReactionView {
    fn from(r: &Reaction) -> Self {
        Self {
            participant_id: r.participant_id.0,
            emoji: r.emoji.clone(),
        }
    }
}

/// A message.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct MessageDto {
    pub id: uuid::Uuid,
    /// Position in the conversation: 1, 2, 3... without gaps.
    pub seq: u64,
    pub conversation_id: uuid::Uuid,
    /// Same as `conversationId`.
    pub conversation: uuid::Uuid,
    /// `None` for messages written by Samvad.
    pub sender_id: Option<uuid::Uuid>,
    /// Same as `senderId`.
    pub sender: Option<uuid::Uuid>,
    /// Same as `senderId`.
    pub from: Option<uuid::Uuid>,
    /// `user`, `astrologer` or `admin`, when known.
    pub sender_type: Option<String>,
    /// `text`, `image`, `audio`, `video`, `file`, `system` or `call`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Same as `type`.
    pub message_type: String,
    /// Exactly as sent; `null` once deleted for everyone.
    pub content: Option<String>,
    /// Same as `content`.
    pub text: Option<String>,
    /// The first file's signed link (for clients that read only this), or
    /// the link an old client sent.
    pub media_url: Option<String>,
    /// The files it carries, in order (an album has up to ten).
    pub files: Vec<FileView>,
    /// Type-specific details (file name and size, call outcome...).
    pub metadata: Option<serde_json::Value>,
    pub reply_to: Option<uuid::Uuid>,
    /// The message this one was forwarded from.
    pub forwarded_from: Option<uuid::Uuid>,
    /// The sender's id for it; a call's entry has `samvad:call:<call id>`.
    pub client_msg_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub edited_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Deleted for everyone (content and media are gone).
    pub is_deleted: bool,
    pub reactions: Vec<ReactionView>,
    /// For the caller's own messages: `sent`, `delivered` (to everyone
    /// else) or `read` (by everyone else).
    pub status: Option<String>,
}

/// Builds message views with what they need from their conversation.
pub struct MessageRenderer<'a> {
    viewer: Option<ParticipantId>,
    members: &'a [MemberInfo],
    reactions: &'a [Reaction],
}

impl<'a> MessageRenderer<'a> {
    pub fn new(
        viewer: Option<ParticipantId>,
        members: &'a [MemberInfo],
        reactions: &'a [Reaction],
    ) -> Self {
        Self {
            viewer,
            members,
            reactions,
        }
    }

    /// Renders a whole set as `viewer` sees it.
    pub fn set(set: MessageSet, viewer: Option<ParticipantId>) -> Vec<MessageDto> {
        let renderer = MessageRenderer::new(viewer, &set.members, &set.reactions);
        set.messages
            .into_iter()
            .map(|m| renderer.render(m))
            .collect()
    }

    fn sender_type(&self, sender: Option<ParticipantId>) -> Option<ParticipantType> {
        let sender = sender?;
        self.members
            .iter()
            .find(|m| m.member.participant_id == sender)
            .map(|m| m.kind)
    }

    /// `sent`, `delivered` or `read` for the viewer's own messages, from
    /// the other members' cursors.
    fn status(&self, message: &Message) -> Option<String> {
        let me = self.viewer?;
        if message.sender_id != Some(me) {
            return None;
        }
        let others: Vec<&MemberInfo> = self
            .members
            .iter()
            .filter(|m| {
                m.member.conversation_id == message.conversation_id && m.member.participant_id != me
            })
            .collect();
        let all = |seq: fn(&MemberInfo) -> u64| {
            !others.is_empty() && others.iter().all(|m| seq(m) >= message.seq)
        };
        Some(
            if all(|m| m.member.read_seq) {
                "read"
            } else if all(|m| m.member.delivered_seq) {
                "delivered"
            } else {
                "sent"
            }
            .to_owned(),
        )
    }

    pub fn render(&self, m: Message) -> MessageDto {
        let sender_type = self.sender_type(m.sender_id).map(|k| k.as_str().to_owned());
        let status = self.status(&m);
        let reactions = self
            .reactions
            .iter()
            .filter(|r| r.message_id == m.id)
            .map(ReactionView::from)
            .collect();
        MessageDto {
            id: m.id.0,
            seq: m.seq,
            conversation_id: m.conversation_id.0,
            conversation: m.conversation_id.0,
            sender_id: m.sender_id.map(|p| p.0),
            sender: m.sender_id.map(|p| p.0),
            from: m.sender_id.map(|p| p.0),
            sender_type,
            kind: m.kind.as_str().to_owned(),
            message_type: m.kind.as_str().to_owned(),
            text: m.content.clone(),
            content: m.content,
            media_url: m
                .media_url
                .or_else(|| m.attachments.first().map(|a| a.url.clone())),
            files: m.attachments.iter().map(FileView::from).collect(),
            metadata: m
                .metadata
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            reply_to: m.reply_to_id.map(|i| i.0),
            forwarded_from: m.forwarded_from_id.map(|i| i.0),
            client_msg_id: m.client_msg_id,
            created_at: m.created_at,
            edited_at: m.edited_at,
            is_deleted: m.deleted_at.is_some(),
            reactions,
            status,
        }
    }
}

/// A page of messages.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct MessagesDto {
    pub conversation_id: uuid::Uuid,
    /// Newest first, unless `after` was given (then oldest first).
    pub items: Vec<MessageDto>,
    /// More messages lie in the paging direction.
    pub has_more: bool,
    /// The seq of the conversation's newest message.
    pub last_seq: u64,
}

impl MessagesDto {
    pub fn from_page(page: MessagePage, viewer: Option<ParticipantId>) -> Self {
        Self {
            conversation_id: page.conversation.id.0,
            items: MessageRenderer::set(page.set, viewer),
            has_more: page.more,
            last_seq: page.conversation.last_seq,
        }
    }
}

/// A message just sent, edited or deleted, as its author sees it.
pub fn own_message(m: Message, sender_type: Option<ParticipantType>) -> MessageDto {
    let viewer = m.sender_id;
    let mut dto = MessageRenderer::new(viewer, &[], &[]).render(m);
    dto.sender_type = sender_type.map(|k| k.as_str().to_owned());
    dto
}
