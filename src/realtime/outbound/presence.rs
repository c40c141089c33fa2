//! What a participant coming online or going offline becomes on the wire.

use chrono::{DateTime, Utc};

use super::{Action, Emit, presence_payload};
use crate::{
    domain::{ConversationId, ParticipantId},
    realtime::rooms::{self, Names},
};

/// `presence` and `user-status-changed` to their conversations' rooms
/// (every member's sockets but their own) when the event names them, or
/// to the members the fan-out looked up (`audience`).
pub fn plan(
    participant: ParticipantId,
    online: bool,
    at: DateTime<Utc>,
    conversations: Option<&[ConversationId]>,
    audience: &[ParticipantId],
) -> Vec<Action> {
    let data = presence_payload(participant, online, at);
    let (to, except) = match conversations {
        Some(ids) => (
            ids.iter().copied().map(rooms::conversation).collect(),
            vec![rooms::user(participant)],
        ),
        None => (rooms::users(audience), vec![]),
    };
    if to.is_empty() {
        return vec![];
    }
    ["presence", "user-status-changed"]
        .into_iter()
        .map(|event| {
            Action::Emit(Emit {
                to: to.clone(),
                except: except.clone(),
                names: Names::every(event),
                data: data.clone(),
            })
        })
        .collect()
}
