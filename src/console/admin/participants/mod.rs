//! Participants: what the list and a participant's page share (the
//! confirmations, a participant's row, reading an id from the path). The
//! list with its search and the form to create one lives in `listing`; a
//! participant's page and editing the profile and contact details in
//! `detail`; blocking, passwords, reset links and ending sessions in
//! `access`. Same casbin checks (`participants` read/write) and core calls
//! as `/api/participants`.

mod access;
mod detail;
mod listing;

pub use access::{block, reset_link, revoke_session, revoke_sessions, set_password};
pub use detail::{show, update};
pub use listing::{create, list};

use super::{
    Fail,
    common::{path_id, when},
};
use crate::domain::{ParticipantId, participant::Participant};

const NOTICES: [(&str, &str); 8] = [
    ("created", "Participant created."),
    ("saved", "Changes saved."),
    ("blocked", "Blocked: every session of theirs has ended."),
    ("unblocked", "Unblocked: they can sign in again."),
    (
        "password",
        "Password set: every session of theirs has ended.",
    ),
    (
        "reset-sent",
        "If the account can sign in, a reset link is on its way to its email address.",
    ),
    ("session-ended", "Session ended."),
    ("sessions-ended", "Every session ended."),
];

/// A participant as the list and the page show it.
pub struct Row {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub email: String,
    pub email_verified: bool,
    pub phone: String,
    pub phone_verified: bool,
    pub avatar: String,
    pub status: String,
    pub blocked: bool,
    pub last_seen: String,
    pub created: String,
}

impl From<Participant> for Row {
    fn from(p: Participant) -> Self {
        Self {
            id: p.id.0.to_string(),
            kind: p.kind.as_str().to_owned(),
            email_verified: p.email.is_some() && p.email_verified_at.is_some(),
            phone_verified: p.phone.is_some() && p.phone_verified_at.is_some(),
            name: p.name,
            email: p.email.unwrap_or_default(),
            phone: p.phone.unwrap_or_default(),
            avatar: p.avatar_url.unwrap_or_default(),
            status: p.status_text.unwrap_or_default(),
            blocked: p.blocked,
            last_seen: p.last_seen_at.map(when).unwrap_or_default(),
            created: when(p.created_at),
        }
    }
}

fn participant_id(raw: &str) -> Result<ParticipantId, Fail> {
    path_id(raw, "participant").map(ParticipantId)
}
