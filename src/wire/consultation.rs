//! Consultations on the wire: what REST answers and what webhooks carry.

use poem_openapi::Object;

use crate::domain::relationship::Consultation;

/// A consultation between a user and an astrologer.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConsultationView {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub astrologer_id: uuid::Uuid,
    /// `requested`, `active`, `completed` or `cancelled`.
    pub status: String,
    /// The tenant's own id for it.
    pub external_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Consultation> for ConsultationView {
    fn from(c: Consultation) -> Self {
        Self {
            id: c.id.0,
            user_id: c.user_id.0,
            astrologer_id: c.astrologer_id.0,
            status: c.status.as_str().to_owned(),
            external_id: c.external_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}
