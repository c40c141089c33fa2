//! Tests of the plans: who hears what, in which dialect.

use std::sync::Arc;

use super::*;
use crate::domain::{
    MessageId, SessionId, TenantId,
    conversation::{ContextType, Conversation, ConversationType},
    message::{Message, MessageType},
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
        attachments: Vec::new(),
    }
}

#[test]
fn a_message_goes_to_every_members_devices_once_per_dialect() {
    let (a, b) = (ParticipantId(id()), ParticipantId(id()));
    let conversation = ConversationId(id());
    let event = DomainEvent::MessageCreated {
        message: Arc::new(message(conversation, a)),
        members: Arc::from(vec![a, b]),
        sender_kind: Some(crate::domain::participant::ParticipantType::User),
    };
    assert_eq!(
        needs(&event),
        Needs::Nothing,
        "the event carries all it needs"
    );
    let actions = plan(&event, &Lookups::default());
    let emits = emits(&actions);
    assert_eq!(emits.len(), 1, "one emit serves every dialect");
    let e = emits[0];
    assert_eq!(
        e.names,
        Names::each("dm:message_received", "receive-message", "message")
    );
    assert_eq!(e.to, [rooms::user(a), rooms::user(b)]);
    assert!(e.except.is_empty());
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
                Action::Emit(e) => Some(e.names),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(names(receipt(true, false)), [Names::every("delivered")]);
    assert_eq!(
        names(receipt(false, true)),
        [Names::dm("dm:messages_read"), Names::backends("read_up_to")]
    );
    let actions = plan(&receipt(true, true), &Lookups::default());
    let emits = emits(&actions);
    assert_eq!(emits[0].data["seq"], json!(5));
    assert_eq!(emits[1].data["readBy"], json!(b.0));
    assert_eq!(emits[2].data["seq"], json!(4));
    assert!(emits[2].data.get("readBy").is_none());
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
        conversations: None,
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
    assert_eq!(emits[1].names, Names::every("user-status-changed"));
}

#[test]
fn coming_online_from_a_socket_tells_its_conversations_without_a_lookup() {
    let who = ParticipantId(id());
    let (one, two) = (ConversationId(id()), ConversationId(id()));
    let event = DomainEvent::PresenceChanged {
        tenant: TenantId(id()),
        participant: who,
        online: true,
        at: crate::domain::now(),
        conversations: Some(vec![one, two].into()),
    };
    assert_eq!(needs(&event), Needs::Nothing);
    let actions = plan(&event, &Lookups::default());
    let emits = emits(&actions);
    assert_eq!(emits.len(), 2);
    for e in &emits {
        assert_eq!(e.to, [rooms::conversation(one), rooms::conversation(two)]);
        assert_eq!(e.except, [rooms::user(who)], "not their own devices");
        assert_eq!(e.data["status"], json!("online"));
    }
    assert_eq!(emits[1].names, Names::every("user-status-changed"));
    let none = DomainEvent::PresenceChanged {
        tenant: TenantId(id()),
        participant: who,
        online: true,
        at: crate::domain::now(),
        conversations: Some(Vec::new().into()),
    };
    assert!(
        plan(&none, &Lookups::default()).is_empty(),
        "nobody to tell"
    );
}

#[test]
fn typing_skips_the_typists_own_devices() {
    let who = ParticipantId(id());
    let conversation = ConversationId(id());
    let started = typing(conversation, who, true);
    assert_eq!(
        started.names,
        Names::each("dm:typing_start", "typing", "typing")
    );
    assert_eq!(started.to, [rooms::conversation(conversation)]);
    assert_eq!(started.except, [rooms::user(who)]);
    assert_eq!(
        typing(conversation, who, false).names,
        Names::each("dm:typing_stop", "typing-stopped", "typing-stopped")
    );
}
