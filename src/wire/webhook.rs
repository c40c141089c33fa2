//! Webhook events' `data`: the object each is about, in the shapes the
//! REST API answers (a message as `GET /api/messages/...` shows it, a call
//! as the call endpoints do, ...), so a receiver reuses the spec's
//! schemas. A conversation and a membership change, which REST shows only
//! as seen by one member, have their own small shapes here.

use poem_openapi::Object;
use serde_json::Value;

use super::{
    call::CallView, chat_request::ChatRequestView, consultation::ConsultationView,
    message::MessageRenderer, participant::ParticipantView, to_value,
};
use crate::domain::webhook::Subject;

/// `conversation.created`: the conversation and who is in it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookConversation {
    pub id: uuid::Uuid,
    /// `admin_astrologer`, `user_astrologer` or `group`.
    #[oai(rename = "type")]
    pub kind: String,
    /// `consultation`, `service_request`, `support` or `general`.
    pub context_type: String,
    pub context_id: Option<String>,
    /// Groups only.
    pub title: Option<String>,
    pub is_active: bool,
    pub created_by: Option<uuid::Uuid>,
    pub member_ids: Vec<uuid::Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// `member.added` and `member.removed`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookMember {
    pub conversation_id: uuid::Uuid,
    pub participant_id: uuid::Uuid,
}

/// The `data` of an event about `subject`.
pub fn data(subject: &Subject) -> Value {
    match subject {
        Subject::Message(m) => to_value(&MessageRenderer::new(None, &[], &[]).render(m.clone())),
        Subject::Conversation {
            conversation: c,
            members,
        } => to_value(&WebhookConversation {
            id: c.id.0,
            kind: c.kind.as_str().to_owned(),
            context_type: c.context_type.as_str().to_owned(),
            context_id: c.context_id.clone(),
            title: c.title.clone(),
            is_active: c.is_active,
            created_by: c.created_by.map(|p| p.0),
            member_ids: members.iter().map(|p| p.0).collect(),
            created_at: c.created_at,
        }),
        Subject::Member {
            conversation,
            participant,
        } => to_value(&WebhookMember {
            conversation_id: conversation.0,
            participant_id: participant.0,
        }),
        Subject::Call(c) => to_value(&CallView::from(c)),
        Subject::ChatRequest(r) => to_value(&ChatRequestView::from(r.clone())),
        Subject::Participant(p) => to_value(&ParticipantView::from(p.clone())),
        Subject::Consultation(c) => to_value(&ConsultationView::from(c.clone())),
    }
}
