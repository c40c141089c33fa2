//! What each domain event becomes on the wire: which rooms hear which event
//! names with which payload, and which room memberships change. Pure: the
//! fan-out (`super::fanout`) looks up what a plan needs (a sender's type, a
//! participant's audience) and carries it out.
//!
//! Messages and everything about a conversation go to its members' `user:`
//! rooms, read from the event: the members at the time of the change, on
//! every device, whether or not the device joined the conversation's room.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::rooms::{self, Dialect};
use crate::{
    domain::{
        ConversationId, ParticipantId,
        conversation::Conversation,
        events::DomainEvent,
        message::Message,
        participant::{Participant, ParticipantType},
        relationship::ChatRequest,
        tenant::TenantStatus,
    },
    wire::{chat_request::ChatRequestView, message::MessageRenderer, to_value},
};

/// One emit: to the sockets in any of `to`, except those in any of `except`.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub to: Vec<String>,
    pub except: Vec<String>,
    pub event: &'static str,
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
    /// The type of a message's sender.
    pub sender_kind: Option<ParticipantType>,
    /// Who shares a conversation with a participant (presence, profile).
    pub audience: Vec<ParticipantId>,
    /// A participant whose profile changed, or a call's caller.
    pub profile: Option<Participant>,
}

/// What the fan-out must look up before planning `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    SenderKind,
    Audience,
    AudienceAndProfile,
    /// A new call: the caller's profile.
    Caller,
}

pub fn needs(event: &DomainEvent) -> Needs {
    match event {
        DomainEvent::MessageCreated { .. }
        | DomainEvent::MessageEdited { .. }
        | DomainEvent::MessageDeleted { .. } => Needs::SenderKind,
        DomainEvent::PresenceChanged { .. } => Needs::Audience,
        DomainEvent::ParticipantUpdated { .. } => Needs::AudienceAndProfile,
        DomainEvent::CallChanged { action: None, .. } => Needs::Caller,
        _ => Needs::Nothing,
    }
}

fn emit(to: Vec<String>, event: &'static str, data: Value) -> Action {
    Action::Emit(Emit {
        to,
        except: vec![],
        event,
        data,
    })
}

/// An event that only sockets hearing `dialect` (or all) get.
fn emit_in(dialect: Dialect, to: Vec<String>, event: &'static str, data: Value) -> Action {
    Action::Emit(Emit {
        to,
        except: dialect.others(),
        event,
        data,
    })
}

/// The message as every member sees it (the sender's status is `sent`).
pub fn message_payload(message: &Message, sender_kind: Option<ParticipantType>) -> Value {
    let mut dto = MessageRenderer::new(None, &[], &[]).render(message.clone());
    dto.sender_type = sender_kind.map(|k| k.as_str().to_owned());
    if message.sender_id.is_some() && message.deleted_at.is_none() {
        dto.status = Some("sent".to_owned());
    }
    to_value(&dto)
}

fn conversation_payload(conversation: &Conversation, members: &[ParticipantId]) -> Value {
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

fn member_payload(conversation: ConversationId, participant: ParticipantId) -> Value {
    json!({
        "conversationId": conversation.0,
        "participantId": participant.0,
        "userId": participant.0,
    })
}

fn chat_request_payload(request: &ChatRequest) -> Value {
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

fn profile_payload(p: &Participant) -> Value {
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

/// The actions for `event`, given what `needs(event)` asked for.
pub fn plan(event: &DomainEvent, found: &Lookups) -> Vec<Action> {
    match event {
        DomainEvent::TenantStatusChanged { tenant, status } => match status {
            TenantStatus::Active => vec![],
            TenantStatus::Suspended => vec![Action::Disconnect {
                room: rooms::tenant(*tenant),
            }],
        },
        DomainEvent::PolicyChanged { .. } => vec![],
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
        DomainEvent::MessageCreated { message, members } => {
            let data = message_payload(message, found.sender_kind);
            let to = rooms::users(members);
            vec![
                emit_in(Dialect::Dm, to.clone(), "dm:message_received", data.clone()),
                emit_in(
                    Dialect::Backend,
                    to.clone(),
                    "receive-message",
                    data.clone(),
                ),
                emit_in(Dialect::Backend1, to, "message", data),
            ]
        }
        DomainEvent::MessageEdited { message, members } => vec![emit(
            rooms::users(members),
            "message_edited",
            message_payload(message, found.sender_kind),
        )],
        DomainEvent::MessageDeleted {
            message,
            members,
            for_everyone,
        } => {
            let mut data = message_payload(message, found.sender_kind);
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
                actions.push(emit_in(Dialect::Dm, to.clone(), "dm:messages_read", read));
                let backends = Action::Emit(Emit {
                    to,
                    except: vec![Dialect::Dm.room().to_owned()],
                    event: "read_up_to",
                    data: cursor(*read_seq),
                });
                actions.push(backends);
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
        DomainEvent::PresenceChanged {
            participant,
            online,
            at,
            ..
        } => {
            let data = presence_payload(*participant, *online, *at);
            let to = rooms::users(&found.audience);
            if to.is_empty() {
                return vec![];
            }
            vec![
                emit(to.clone(), "presence", data.clone()),
                emit(to, "user-status-changed", data),
            ]
        }
        DomainEvent::CallChanged { .. } | DomainEvent::CallSignal { .. } => {
            super::calls::plan(event, found.profile.as_ref())
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
pub fn typing(conversation: ConversationId, who: ParticipantId, started: bool) -> Vec<Emit> {
    let data = json!({
        "conversationId": conversation.0,
        "userId": who.0,
        "participantId": who.0,
        "isTyping": started,
    });
    let room = rooms::conversation(conversation);
    let me = rooms::user(who);
    let except = |dialect: Dialect| {
        let mut except = dialect.others();
        except.push(me.clone());
        except
    };
    let (dm, backend) = if started {
        ("dm:typing_start", "typing")
    } else {
        ("dm:typing_stop", "typing-stopped")
    };
    vec![
        Emit {
            to: vec![room.clone()],
            except: except(Dialect::Dm),
            event: dm,
            data: data.clone(),
        },
        Emit {
            to: vec![room],
            // Both backends use the same names.
            except: vec![Dialect::Dm.room().to_owned(), me],
            event: backend,
            data,
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::{
        MessageId, SessionId, TenantId,
        conversation::{ContextType, ConversationType},
        message::MessageType,
    };

    fn id() -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }

    fn message(conversation: ConversationId, sender: ParticipantId) -> Message {
        Message {
            tenant_id: TenantId(id()),
            conversation_id: conversation,
            seq: 7,
            id: MessageId(id()),
            sender_id: Some(sender),
            kind: MessageType::Text,
            content: Some("<b>hi</b>".into()),
            media_url: None,
            metadata: None,
            reply_to_id: None,
            forwarded_from_id: None,
            client_msg_id: Some("c-1".into()),
            created_at: crate::domain::now(),
            edited_at: None,
            deleted_at: None,
        }
    }

    #[test]
    fn a_message_goes_to_every_members_devices_once_per_dialect() {
        let (a, b) = (ParticipantId(id()), ParticipantId(id()));
        let conversation = ConversationId(id());
        let event = DomainEvent::MessageCreated {
            message: Arc::new(message(conversation, a)),
            members: Arc::from(vec![a, b]),
        };
        assert_eq!(needs(&event), Needs::SenderKind);
        let found = Lookups {
            sender_kind: Some(ParticipantType::User),
            ..Lookups::default()
        };
        let actions = plan(&event, &found);
        let emits = emits(&actions);
        let names: Vec<&str> = emits.iter().map(|e| e.event).collect();
        assert_eq!(names, ["dm:message_received", "receive-message", "message"]);
        for e in &emits {
            assert_eq!(e.to, [rooms::user(a), rooms::user(b)]);
            assert_eq!(
                e.except.len(),
                2,
                "only the other two dialects are left out"
            );
            assert!(!e.except.contains(&"dialect:all".to_owned()));
            assert_eq!(e.data["seq"], json!(7));
            assert_eq!(
                e.data["content"],
                json!("<b>hi</b>"),
                "stored and sent as is"
            );
            assert_eq!(e.data["senderType"], json!("user"));
            assert_eq!(e.data["conversationId"], json!(conversation.0));
            assert_eq!(e.data["clientMsgId"], json!("c-1"));
        }
        assert!(emits[0].except.contains(&"dialect:backend".to_owned()));
        assert!(emits[2].except.contains(&"dialect:dm".to_owned()));
    }

    #[test]
    fn receipts_name_the_cursor_that_moved() {
        let (a, b) = (ParticipantId(id()), ParticipantId(id()));
        let receipt = |delivered_moved, read_moved| DomainEvent::ReceiptMoved {
            tenant: TenantId(id()),
            conversation: ConversationId(id()),
            participant: b,
            delivered_seq: 5,
            read_seq: 4,
            delivered_moved,
            read_moved,
            members: Arc::from(vec![a, b]),
        };
        let names = |event| {
            plan(&event, &Lookups::default())
                .iter()
                .filter_map(|a| match a {
                    Action::Emit(e) => Some(e.event),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names(receipt(true, false)), ["delivered"]);
        assert_eq!(
            names(receipt(false, true)),
            ["dm:messages_read", "read_up_to"]
        );
        let actions = plan(&receipt(true, true), &Lookups::default());
        let emits = emits(&actions);
        assert_eq!(emits[0].data["seq"], json!(5));
        assert_eq!(emits[1].data["readBy"], json!(b.0));
        assert_eq!(emits[2].data["seq"], json!(4));
        assert_eq!(emits[2].except, [Dialect::Dm.room()]);
    }

    #[test]
    fn membership_changes_move_devices_in_and_out_of_the_room() {
        let (a, b) = (ParticipantId(id()), ParticipantId(id()));
        let conversation = ConversationId(id());
        let removed = DomainEvent::MemberRemoved {
            tenant: TenantId(id()),
            conversation,
            participant: b,
            members: Arc::from(vec![a, b]),
        };
        let actions = plan(&removed, &Lookups::default());
        assert!(
            matches!(&actions[0], Action::Emit(e) if e.to.contains(&rooms::user(b))),
            "told first"
        );
        assert_eq!(
            actions[1],
            Action::Leave {
                who: vec![rooms::user(b)],
                room: rooms::conversation(conversation)
            }
        );
        let created = DomainEvent::ConversationCreated {
            conversation: Arc::new(Conversation {
                tenant_id: TenantId(id()),
                id: conversation,
                kind: ConversationType::UserAstrologer,
                context_type: ContextType::General,
                context_id: None,
                title: None,
                is_active: true,
                created_by: Some(a),
                last_seq: 0,
                last_message_id: None,
                last_message_at: None,
                last_message_sender: None,
                last_message_type: None,
                last_message_preview: None,
                activity_at: crate::domain::now(),
                created_at: crate::domain::now(),
                updated_at: crate::domain::now(),
            }),
            members: Arc::from(vec![a, b]),
        };
        let actions = plan(&created, &Lookups::default());
        assert_eq!(
            actions[0],
            Action::Join {
                who: vec![rooms::user(a), rooms::user(b)],
                room: rooms::conversation(conversation)
            }
        );
    }

    #[test]
    fn revocations_disconnect_the_right_sockets() {
        let session = SessionId::new();
        assert_eq!(
            plan(
                &DomainEvent::SessionRevoked { session },
                &Lookups::default()
            ),
            [Action::Disconnect {
                room: rooms::session(session)
            }]
        );
        let subject = id();
        let tenant = Some(TenantId(id()));
        assert_eq!(
            plan(
                &DomainEvent::SubjectSessionsRevoked { tenant, subject },
                &Lookups::default()
            ),
            [Action::DisconnectDead {
                room: rooms::user(ParticipantId(subject))
            }]
        );
        let suspended = DomainEvent::TenantStatusChanged {
            tenant: TenantId(subject),
            status: TenantStatus::Suspended,
        };
        assert!(matches!(
            &plan(&suspended, &Lookups::default())[..],
            [Action::Disconnect { .. }]
        ));
    }

    #[test]
    fn presence_goes_to_the_audience_only() {
        let who = ParticipantId(id());
        let event = DomainEvent::PresenceChanged {
            tenant: TenantId(id()),
            participant: who,
            online: false,
            at: crate::domain::now(),
        };
        assert_eq!(needs(&event), Needs::Audience);
        assert!(
            plan(&event, &Lookups::default()).is_empty(),
            "nobody to tell"
        );
        let friend = ParticipantId(id());
        let found = Lookups {
            audience: vec![friend],
            ..Lookups::default()
        };
        let actions = plan(&event, &found);
        let emits = emits(&actions);
        assert_eq!(emits.len(), 2);
        assert_eq!(emits[0].to, [rooms::user(friend)]);
        assert_eq!(emits[0].data["status"], json!("offline"));
        assert_eq!(emits[1].event, "user-status-changed");
    }

    #[test]
    fn typing_skips_the_typists_own_devices() {
        let who = ParticipantId(id());
        let conversation = ConversationId(id());
        let emits = typing(conversation, who, true);
        assert_eq!(emits[0].event, "dm:typing_start");
        assert_eq!(emits[1].event, "typing");
        for e in &emits {
            assert_eq!(e.to, [rooms::conversation(conversation)]);
            assert!(e.except.contains(&rooms::user(who)));
        }
        assert_eq!(typing(conversation, who, false)[1].event, "typing-stopped");
    }
}
