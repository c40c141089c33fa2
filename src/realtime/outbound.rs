//! What each domain event becomes on the wire: which rooms hear which event
//! names with which payload, and which room memberships change. Pure: the
//! fan-out (`super::fanout`) looks up what a plan needs (a sender's type, a
//! participant's audience) and carries it out.
//!
//! Messages and everything about a conversation go to its members' `user:`
//! rooms, read from the event: the members at the time of the change, on
//! every device, whether or not the device joined the conversation's room.

mod calls;
mod payloads;
mod presence;

use serde_json::{Value, json};

use payloads::{chat_request_payload, conversation_payload, member_payload, profile_payload};
pub use payloads::{message_payload, presence_payload};

use super::rooms::{self, Names};
use crate::{
    domain::{
        ConversationId, ParticipantId, events::DomainEvent, participant::Participant,
        tenant::TenantStatus,
    },
    wire::{
        notification::{NotificationView, UnreadCount},
        to_value,
    },
};

/// One emit: to the sockets in any of `to`, except those in any of
/// `except`, under the names their dialects hear.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub to: Vec<String>,
    pub except: Vec<String>,
    pub names: Names<'static>,
    pub data: Value,
}

/// One thing the fan-out does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Emit(Emit),
    /// The sockets in any of `who` join `room`.
    Join {
        who: Vec<String>,
        room: String,
    },
    /// The sockets in any of `who` leave `room`.
    Leave {
        who: Vec<String>,
        room: String,
    },
    /// Every socket in `room` is disconnected.
    Disconnect {
        room: String,
    },
    /// The sockets in `room` whose session is no longer live are disconnected.
    DisconnectDead {
        room: String,
    },
}

/// What a plan needs beyond the event, looked up by the fan-out.
#[derive(Debug, Default, Clone)]
pub struct Lookups {
    /// Who shares a conversation with a participant (presence, profile).
    pub audience: Vec<ParticipantId>,
    /// A participant whose profile changed, or a call's caller.
    pub profile: Option<Participant>,
}

/// What the fan-out must look up before planning `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    Audience,
    AudienceAndProfile,
    /// A new call: the caller's profile.
    Caller,
}

pub fn needs(event: &DomainEvent) -> Needs {
    match event {
        DomainEvent::PresenceChanged {
            conversations: Some(_),
            ..
        } => Needs::Nothing,
        DomainEvent::PresenceChanged { .. } => Needs::Audience,
        DomainEvent::ParticipantUpdated { .. } => Needs::AudienceAndProfile,
        DomainEvent::CallChanged { action: None, .. } => Needs::Caller,
        _ => Needs::Nothing,
    }
}

/// An event every dialect hears under one name.
fn emit(to: Vec<String>, event: &'static str, data: Value) -> Action {
    emit_as(to, Names::every(event), data)
}

fn emit_as(to: Vec<String>, names: Names<'static>, data: Value) -> Action {
    Action::Emit(Emit {
        to,
        except: vec![],
        names,
        data,
    })
}

/// The actions for `event`, given what `needs(event)` asked for.
pub fn plan(event: &DomainEvent, found: &Lookups) -> Vec<Action> {
    match event {
        DomainEvent::TenantStatusChanged { tenant, status } => match status {
            TenantStatus::Active => vec![],
            TenantStatus::Suspended => vec![Action::Disconnect {
                room: rooms::tenant(*tenant),
            }],
        },
        DomainEvent::PolicyChanged { .. } | DomainEvent::SettingsChanged { .. } => vec![],
        DomainEvent::SessionRevoked { session } => vec![Action::Disconnect {
            room: rooms::session(*session),
        }],
        DomainEvent::SubjectSessionsRevoked { tenant, subject } => match tenant {
            Some(_) => vec![Action::DisconnectDead {
                room: rooms::user(ParticipantId(*subject)),
            }],
            None => vec![], // the superadmin has no sockets
        },
        DomainEvent::ParticipantUpdated { participant, .. } => match &found.profile {
            Some(profile) => {
                let mut to = rooms::users(&found.audience);
                to.push(rooms::user(*participant));
                vec![emit(to, "user_profile_updated", profile_payload(profile))]
            }
            None => vec![],
        },
        DomainEvent::ConversationCreated {
            conversation,
            members,
        } => vec![
            Action::Join {
                who: rooms::users(members),
                room: rooms::conversation(conversation.id),
            },
            emit(
                rooms::users(members),
                "conversation_created",
                conversation_payload(conversation, members),
            ),
        ],
        DomainEvent::ConversationUpdated {
            conversation,
            members,
        } => vec![emit(
            rooms::users(members),
            "conversation_updated",
            conversation_payload(conversation, members),
        )],
        DomainEvent::MemberAdded {
            conversation,
            participant,
            members,
            ..
        } => vec![
            Action::Join {
                who: vec![rooms::user(*participant)],
                room: rooms::conversation(*conversation),
            },
            emit(
                rooms::users(members),
                "member_added",
                member_payload(*conversation, *participant),
            ),
        ],
        DomainEvent::MemberRemoved {
            conversation,
            participant,
            members,
            ..
        } => vec![
            emit(
                rooms::users(members),
                "member_removed",
                member_payload(*conversation, *participant),
            ),
            Action::Leave {
                who: vec![rooms::user(*participant)],
                room: rooms::conversation(*conversation),
            },
        ],
        DomainEvent::MessageCreated {
            message,
            members,
            sender_kind,
        } => {
            let names = Names::each("dm:message_received", "receive-message", "message");
            vec![emit_as(
                rooms::users(members),
                names,
                message_payload(message, *sender_kind),
            )]
        }
        DomainEvent::MessageEdited {
            message,
            members,
            sender_kind,
        } => vec![emit(
            rooms::users(members),
            "message_edited",
            message_payload(message, *sender_kind),
        )],
        DomainEvent::MessageDeleted {
            message,
            members,
            for_everyone,
            sender_kind,
        } => {
            let mut data = message_payload(message, *sender_kind);
            data["messageId"] = json!(message.id.0);
            data["forEveryone"] = json!(for_everyone);
            vec![emit(rooms::users(members), "message_deleted", data)]
        }
        DomainEvent::ReactionChanged {
            message,
            members,
            participant,
            emoji,
        } => vec![emit(
            rooms::users(members),
            "message_reaction",
            json!({
                "conversationId": message.conversation_id.0,
                "messageId": message.id.0,
                "participantId": participant.0,
                "userId": participant.0,
                "emoji": emoji,
                "removed": emoji.is_none(),
            }),
        )],
        DomainEvent::ReceiptMoved {
            conversation,
            participant,
            delivered_seq,
            read_seq,
            delivered_moved,
            read_moved,
            members,
            ..
        } => {
            let to = rooms::users(members);
            let cursor = |seq: u64| {
                json!({
                    "conversationId": conversation.0,
                    "userId": participant.0,
                    "participantId": participant.0,
                    "seq": seq,
                    "deliveredSeq": delivered_seq,
                    "readSeq": read_seq,
                })
            };
            let mut actions = vec![];
            if *delivered_moved {
                actions.push(emit(to.clone(), "delivered", cursor(*delivered_seq)));
            }
            if *read_moved {
                let mut read = cursor(*read_seq);
                read["readBy"] = json!(participant.0);
                let dm = Names::dm("dm:messages_read");
                actions.push(emit_as(to.clone(), dm, read));
                let backends = Names::backends("read_up_to");
                actions.push(emit_as(to, backends, cursor(*read_seq)));
            }
            actions
        }
        DomainEvent::ChatRequestCreated { request }
        | DomainEvent::ChatRequestAnswered { request } => {
            vec![emit(
                rooms::users(&[request.from_id, request.to_id]),
                "chat_request",
                chat_request_payload(request),
            )]
        }
        DomainEvent::NotificationsChanged {
            participant,
            notification,
            unread,
            ..
        } => {
            let to = rooms::users(&[*participant]);
            let mut actions = Vec::new();
            if let Some(n) = notification {
                actions.push(emit(
                    to.clone(),
                    "notification",
                    to_value(&NotificationView::from(&**n)),
                ));
            }
            actions.push(emit(
                to,
                "notification_count",
                to_value(&UnreadCount { count: *unread }),
            ));
            actions
        }
        DomainEvent::PresenceChanged {
            participant,
            online,
            at,
            conversations,
            ..
        } => presence::plan(
            *participant,
            *online,
            *at,
            conversations.as_deref(),
            &found.audience,
        ),
        DomainEvent::CallChanged { .. } | DomainEvent::CallSignal { .. } => {
            calls::plan(event, found.profile.as_ref())
        }
    }
}

/// The emits among `actions` (for tests).
#[cfg(test)]
pub fn emits(actions: &[Action]) -> Vec<&Emit> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Emit(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Typing in a conversation: to its room, except the typist's own devices.
pub fn typing(conversation: ConversationId, who: ParticipantId, started: bool) -> Emit {
    let data = json!({
        "conversationId": conversation.0,
        "userId": who.0,
        "participantId": who.0,
        "isTyping": started,
    });
    // Both backends use the same names.
    let names = if started {
        Names::each("dm:typing_start", "typing", "typing")
    } else {
        Names::each("dm:typing_stop", "typing-stopped", "typing-stopped")
    };
    Emit {
        to: vec![rooms::conversation(conversation)],
        except: vec![rooms::user(who)],
        names,
        data,
    }
}

#[cfg(test)]
mod tests;
