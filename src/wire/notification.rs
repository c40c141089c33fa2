//! Notifications on the wire: the inbox's entries (REST) and the
//! `notification` socket event carry the same object.

use poem_openapi::Object;

use crate::domain::notification::Notification;

/// An entry of the inbox.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: uuid::Uuid,
    /// `message`, `missed_call`, `chat_request`, `chat_request_answered` or
    /// `consultation`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Who it is from (the sender's or caller's name).
    pub title: String,
    /// A preview: the newest message's text (about 120 characters),
    /// "Photo", "Voice message (0:42)", "Missed voice call"...
    pub body: String,
    /// Messages collapsed into it (one unread entry per conversation).
    pub count: u32,
    pub conversation_id: Option<uuid::Uuid>,
    /// The newest message, call or chat request it is about.
    pub subject_id: uuid::Uuid,
    /// The newest message's seq: open the conversation there.
    pub seq: Option<u64>,
    pub is_read: bool,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When a message was last collapsed into it.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind.as_str().to_owned(),
            title: n.title.clone(),
            body: n.body.clone(),
            count: n.count,
            conversation_id: n.conversation_id.map(|c| c.0),
            subject_id: n.subject_id,
            seq: n.seq,
            is_read: n.read_at.is_some(),
            read_at: n.read_at,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

/// The unread count, as the `notification_count` event and
/// `GET /api/notifications/unread-count` give it.
#[derive(Debug, Clone, Object)]
pub struct UnreadCount {
    pub count: u64,
}
