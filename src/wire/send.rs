//! The send payload, decoded once for every front door that sends:
//! `POST /api/conversations/{id}/messages` (and seed 004's admin paths) take
//! [`SendMessageRequest`]; `POST /api/messages` and the socket's send events
//! (`dm:send_message`, `send-message`, `message`) take
//! [`PostMessageRequest`], which also says where the message goes. Both
//! spellings of each field are accepted: `content`/`text`,
//! `type`/`messageType`, `conversationId`/`conversation`, `to`/`recipientId`;
//! `from` and `sender` are accepted and ignored (the sender is the caller).
//!
//! The REST doors parse these through poem-openapi (they are the spec's
//! schemas), the socket through serde; the mapping onto the core's input is
//! the same code.

use poem_openapi::Object;
use serde::Deserialize;

use crate::{
    domain::{
        ConversationId, FileId, MessageId, ParticipantId,
        message::{MessageType, SendInput},
    },
    error::{AppError, AppResult},
};

/// A message to send. `text` is accepted for `content`, `messageType` for `type`.
#[derive(Debug, Object, Default, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    pub content: Option<String>,
    pub text: Option<String>,
    /// `text` (default), `image`, `audio`, `video` or `file`. With
    /// `fileId`/`fileIds` it may be left out: the first file's kind.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message_type: Option<String>,
    /// A link to media hosted elsewhere (the old clients' way); prefer
    /// `fileId`.
    pub media_url: Option<String>,
    /// A file uploaded with `POST /api/files/upload`, sent with this message.
    pub file_id: Option<uuid::Uuid>,
    /// Up to 10 uploaded files (an album), in order.
    pub file_ids: Option<Vec<uuid::Uuid>>,
    pub metadata: Option<serde_json::Value>,
    /// A message of the same conversation this one answers.
    pub reply_to: Option<uuid::Uuid>,
    /// The client's id for this message (1-64 characters, not starting with
    /// `samvad:`): sending it again returns the first one.
    pub client_msg_id: Option<String>,
}

impl SendMessageRequest {
    /// What to send, in the one spelling the core takes.
    pub fn into_input(self) -> AppResult<SendInput> {
        let kind = match self.kind.or(self.message_type) {
            Some(kind) => Some(MessageType::parse_sendable(&kind)?),
            None => None,
        };
        let mut files: Vec<FileId> = self.file_id.into_iter().map(FileId).collect();
        files.extend(self.file_ids.unwrap_or_default().into_iter().map(FileId));
        Ok(SendInput {
            kind: kind.unwrap_or(MessageType::Text),
            kind_given: kind.is_some(),
            files,
            content: self.content.or(self.text),
            media_url: self.media_url,
            metadata: self.metadata,
            reply_to: self.reply_to.map(MessageId),
            client_msg_id: self.client_msg_id,
        })
    }
}

/// A message to send: where (`conversationId`/`conversation`, or
/// `to`/`recipientId` for a direct conversation) and what.
#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PostMessageRequest {
    pub conversation_id: Option<uuid::Uuid>,
    pub conversation: Option<uuid::Uuid>,
    pub to: Option<uuid::Uuid>,
    pub recipient_id: Option<uuid::Uuid>,
    pub content: Option<String>,
    pub text: Option<String>,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message_type: Option<String>,
    pub media_url: Option<String>,
    pub file_id: Option<uuid::Uuid>,
    pub file_ids: Option<Vec<uuid::Uuid>>,
    pub metadata: Option<serde_json::Value>,
    pub reply_to: Option<uuid::Uuid>,
    pub client_msg_id: Option<String>,
    /// Accepted and ignored (Backend1's spelling): the sender is always the
    /// authenticated caller.
    pub from: Option<serde_json::Value>,
    /// Accepted and ignored (Backend's spelling), like `from`.
    pub sender: Option<serde_json::Value>,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// A conversation named by id.
    Conversation(ConversationId),
    /// The general direct conversation with this participant (opened on demand).
    Direct(ParticipantId),
}

impl PostMessageRequest {
    /// Where the message goes and what it is. A conversation named either
    /// way wins over `to`/`recipientId`.
    pub fn split(self) -> AppResult<(Destination, SendMessageRequest)> {
        let to = match (
            self.conversation_id.or(self.conversation),
            self.to.or(self.recipient_id),
        ) {
            (Some(id), _) => Destination::Conversation(ConversationId(id)),
            (None, Some(to)) => Destination::Direct(ParticipantId(to)),
            (None, None) => {
                return Err(AppError::validation(
                    "give conversationId, or `to` for a direct message",
                ));
            }
        };
        let what = SendMessageRequest {
            content: self.content,
            text: self.text,
            kind: self.kind,
            message_type: self.message_type,
            media_url: self.media_url,
            file_id: self.file_id,
            file_ids: self.file_ids,
            metadata: self.metadata,
            reply_to: self.reply_to,
            client_msg_id: self.client_msg_id,
        };
        Ok((to, what))
    }
}

/// A conversation named either way the seeds do (`conversationId` or
/// `conversation`), as socket events name it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRef {
    conversation_id: Option<uuid::Uuid>,
    conversation: Option<uuid::Uuid>,
}

impl ConversationRef {
    pub fn id(&self) -> AppResult<ConversationId> {
        self.conversation_id
            .or(self.conversation)
            .map(ConversationId)
            .ok_or_else(|| AppError::validation("give conversationId"))
    }
}
