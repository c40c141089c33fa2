//! Participants on the wire: the profile (`ParticipantView`, with every
//! spelling of its id, type and avatar the seeds read) and presence.

use poem_openapi::Object;

use crate::domain::{
    participant::Participant,
    presence::{PresenceOf, last_seen},
};

/// A participant as the API shows it. Both spellings the seeds use are
/// present: `id`/`uid`/`userId`, `type`/`role`, `avatar`/`avatarUrl`.
/// `email` and `phone` are shown to admins and to the participant only (the
/// core removes them for everyone else).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ParticipantView {
    pub id: uuid::Uuid,
    pub uid: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    /// `user`, `astrologer` or `admin`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Same as `type`.
    pub role: String,
    pub name: String,
    pub email: Option<String>,
    /// Whether a code or a link proved the email is the participant's.
    pub email_verified: bool,
    pub phone: Option<String>,
    /// Whether a code proved the phone is the participant's.
    pub phone_verified: bool,
    pub avatar: Option<String>,
    pub avatar_url: Option<String>,
    /// The participant's status line.
    pub status: Option<String>,
    pub blocked: bool,
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The participant as the core returned it (already redacted for the viewer).
impl From<Participant> for ParticipantView {
    fn from(p: Participant) -> Self {
        Self {
            id: p.id.0,
            uid: p.id.0,
            user_id: p.id.0,
            tenant_id: p.tenant_id.0,
            kind: p.kind.as_str().to_owned(),
            role: p.kind.as_str().to_owned(),
            name: p.name,
            email_verified: p.email.is_some() && p.email_verified_at.is_some(),
            phone_verified: p.phone.is_some() && p.phone_verified_at.is_some(),
            email: p.email,
            phone: p.phone,
            avatar: p.avatar_url.clone(),
            avatar_url: p.avatar_url,
            status: p.status_text,
            blocked: p.blocked,
            last_seen: p.last_seen_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A participant's presence.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PresenceView {
    pub user_id: uuid::Uuid,
    /// Same as `userId`.
    pub id: uuid::Uuid,
    pub online: bool,
    /// `online` or `offline`.
    pub status: String,
    /// Now while online; otherwise when they were last online (absent if never).
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&PresenceOf> for PresenceView {
    fn from(p: &PresenceOf) -> Self {
        Self {
            user_id: p.participant.id.0,
            id: p.participant.id.0,
            online: p.online,
            status: if p.online { "online" } else { "offline" }.to_owned(),
            last_seen: last_seen(p),
        }
    }
}
