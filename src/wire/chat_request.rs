//! Chat requests on the wire: what REST answers and what the `chat_request`
//! socket event carries.

use poem_openapi::Object;

use crate::domain::relationship::ChatRequest;

/// A chat request.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ChatRequestView {
    pub id: uuid::Uuid,
    pub from_id: uuid::Uuid,
    pub to_id: uuid::Uuid,
    /// `pending`, `accepted`, `declined` or `cancelled`.
    pub status: String,
    pub note: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ChatRequest> for ChatRequestView {
    fn from(r: ChatRequest) -> Self {
        Self {
            id: r.id.0,
            from_id: r.from_id.0,
            to_id: r.to_id.0,
            status: r.status.as_str().to_owned(),
            note: r.note,
            created_at: r.created_at,
            answered_at: r.answered_at,
        }
    }
}
