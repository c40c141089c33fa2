//! The payloads of the events the fan-out sends: messages (rendered as
//! REST renders them), conversations, members, chat requests, presence and
//! profiles, with both spellings of ids the seeds' clients read.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    domain::{
        ConversationId, ParticipantId,
        conversation::Conversation,
        message::Message,
        participant::{Participant, ParticipantType},
        relationship::ChatRequest,
    },
    wire::{chat_request::ChatRequestView, message::MessageRenderer, to_value},
};

/// The message as every member sees it (the sender's status is `sent`).
pub fn message_payload(message: &Message, sender_kind: Option<ParticipantType>) -> Value {
    let mut dto = MessageRenderer::new(None, &[], &[]).render(message.clone());
    dto.sender_type = sender_kind.map(|k| k.as_str().to_owned());
    if message.sender_id.is_some() && message.deleted_at.is_none() {
        dto.status = Some("sent".to_owned());
    }
    to_value(&dto)
}

pub(super) fn conversation_payload(
    conversation: &Conversation,
    members: &[ParticipantId],
) -> Value {
    json!({
        "id": conversation.id.0,
        "conversationId": conversation.id.0,
        "type": conversation.kind.as_str(),
        "conversationType": conversation.kind.as_str(),
        "contextType": conversation.context_type.as_str(),
        "contextId": conversation.context_id,
        "title": conversation.title,
        "isActive": conversation.is_active,
        "lastSeq": conversation.last_seq,
        "members": members.iter().map(|m| m.0).collect::<Vec<_>>(),
    })
}

pub(super) fn member_payload(conversation: ConversationId, participant: ParticipantId) -> Value {
    json!({
        "conversationId": conversation.0,
        "participantId": participant.0,
        "userId": participant.0,
    })
}

pub(super) fn chat_request_payload(request: &ChatRequest) -> Value {
    to_value(&ChatRequestView::from(request.clone()))
}

pub fn presence_payload(participant: ParticipantId, online: bool, at: DateTime<Utc>) -> Value {
    json!({
        "userId": participant.0,
        "participantId": participant.0,
        "online": online,
        "status": if online { "online" } else { "offline" },
        "lastSeen": at,
    })
}

pub(super) fn profile_payload(p: &Participant) -> Value {
    json!({
        "id": p.id.0,
        "userId": p.id.0,
        "type": p.kind.as_str(),
        "name": p.name,
        "avatar": p.avatar_url,
        "avatarUrl": p.avatar_url,
        "status": p.status_text,
    })
}
