//! The core publishes one domain event per messaging change, addressed to
//! the right members, and nothing for a refused request. The realtime layer
//! fans these out; here we read the bus directly.

use std::sync::Arc;

use reqwest::Method;
use samvad::domain::{
    ParticipantId, events::DomainEvent, participant::ParticipantType,
    relationship::ChatRequestStatus,
};
use serde_json::json;
use tokio::sync::broadcast::{Receiver, error::TryRecvError};

use crate::world::World;

/// The next messaging event (identity events — sessions, policies — are skipped).
async fn next(rx: &mut Receiver<Arc<DomainEvent>>) -> Arc<DomainEvent> {
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("an event")
            .expect("the bus is open");
        if !matches!(
            *event,
            DomainEvent::PolicyChanged { .. }
                | DomainEvent::SessionRevoked { .. }
                | DomainEvent::SubjectSessionsRevoked { .. }
                | DomainEvent::ParticipantUpdated { .. }
                | DomainEvent::TenantStatusChanged { .. }
                // The inbox's, published by its worker whenever it gets
                // to the log: not part of the use cases' own sequence.
                | DomainEvent::NotificationsChanged { .. }
        ) {
            return event;
        }
    }
}

fn ids(members: &[ParticipantId]) -> Vec<uuid::Uuid> {
    let mut ids: Vec<_> = members.iter().map(|m| m.0).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<uuid::Uuid>) -> Vec<uuid::Uuid> {
    ids.sort();
    ids
}

#[tokio::test]
async fn every_messaging_change_publishes_one_event_to_its_members() {
    let w = World::new().await;
    let mut rx = w.app.core.events().subscribe();
    let pair = sorted(vec![w.user.id, w.astro.id]);

    // Chat request: created, then answered (which opens the conversation).
    let asked = w
        .app
        .post(
            "/api/chat-requests",
            Some(&w.stranger.access),
            json!({ "to": w.astro.id }),
        )
        .await;
    let request = asked.data()["id"].as_str().unwrap().to_owned();
    match &*next(&mut rx).await {
        DomainEvent::ChatRequestCreated { request: r } => {
            assert_eq!((r.from_id.0, r.to_id.0), (w.stranger.id, w.astro.id));
        }
        other => panic!("expected ChatRequestCreated, got {other:?}"),
    }
    let accept = format!("/api/chat-requests/{request}/accept");
    w.app
        .post(&accept, Some(&w.astro.access), json!({}))
        .await
        .data();
    match &*next(&mut rx).await {
        DomainEvent::ChatRequestAnswered { request: r } => {
            assert_eq!(r.status, ChatRequestStatus::Accepted)
        }
        other => panic!("expected ChatRequestAnswered, got {other:?}"),
    }
    match &*next(&mut rx).await {
        DomainEvent::ConversationCreated { members, .. } => {
            assert_eq!(ids(members), sorted(vec![w.stranger.id, w.astro.id]));
        }
        other => panic!("expected ConversationCreated, got {other:?}"),
    }

    // A direct conversation and a message in it.
    let id = w.open(&w.user, &w.astro).await;
    match &*next(&mut rx).await {
        DomainEvent::ConversationCreated {
            conversation,
            members,
        } => {
            assert_eq!(conversation.id.0.to_string(), id);
            assert_eq!(ids(members), pair);
        }
        other => panic!("expected ConversationCreated, got {other:?}"),
    }
    // Opening it again is not a new conversation: no event.
    w.open(&w.user, &w.astro).await;
    let sent = w.send(&w.user, &id, "hello").await;
    let message = sent["id"].as_str().unwrap().to_owned();
    match &*next(&mut rx).await {
        DomainEvent::MessageCreated {
            message: m,
            members,
            sender_kind,
        } => {
            assert_eq!((m.seq, m.content.as_deref()), (1, Some("hello")));
            assert_eq!(ids(members), pair);
            // The fan-out reads the sender's type here, not in the database.
            assert_eq!(*sender_kind, Some(ParticipantType::User));
        }
        other => panic!("expected MessageCreated, got {other:?}"),
    }
    // A refused send (not a member) publishes nothing.
    let path = format!("/api/conversations/{id}/messages");
    w.app
        .post(
            &path,
            Some(&w.stranger.access),
            json!({ "content": "psst" }),
        )
        .await
        .assert_error(404, "not_found");

    // Receipts.
    w.call(
        &w.astro,
        Method::POST,
        &format!("/api/conversations/{id}/read"),
        Some(json!({ "seq": 1 })),
    )
    .await
    .data();
    match &*next(&mut rx).await {
        DomainEvent::ReceiptMoved {
            participant,
            delivered_seq,
            read_seq,
            members,
            ..
        } => {
            assert_eq!(
                (participant.0, *delivered_seq, *read_seq),
                (w.astro.id, 1, 1)
            );
            assert_eq!(ids(members), pair);
        }
        other => panic!("expected ReceiptMoved, got {other:?}"),
    }
    // A cursor that does not move publishes nothing.
    w.call(
        &w.astro,
        Method::POST,
        &format!("/api/conversations/{id}/read"),
        Some(json!({ "seq": 1 })),
    )
    .await
    .data();

    // Edit, react twice (on, off), delete for everyone.
    let one = format!("/api/messages/{message}");
    w.app
        .patch(&one, &w.user.access, json!({ "content": "hello!" }))
        .await
        .data();
    match &*next(&mut rx).await {
        DomainEvent::MessageEdited {
            message: m,
            sender_kind,
            ..
        } => {
            assert_eq!(m.content.as_deref(), Some("hello!"));
            assert_eq!(*sender_kind, Some(ParticipantType::User));
        }
        other => panic!("expected MessageEdited, got {other:?}"),
    }
    for expected in [Some("🙏"), None] {
        w.app
            .post(
                &format!("{one}/reactions"),
                Some(&w.astro.access),
                json!({ "emoji": "🙏" }),
            )
            .await
            .data();
        match &*next(&mut rx).await {
            DomainEvent::ReactionChanged {
                participant,
                emoji,
                members,
                ..
            } => {
                assert_eq!((participant.0, emoji.as_deref()), (w.astro.id, expected));
                assert_eq!(ids(members), pair);
            }
            other => panic!("expected ReactionChanged, got {other:?}"),
        }
    }
    w.call(
        &w.user,
        Method::DELETE,
        &format!("{one}?forEveryone=true"),
        None,
    )
    .await
    .data();
    match &*next(&mut rx).await {
        DomainEvent::MessageDeleted {
            message: m,
            members,
            for_everyone,
            sender_kind,
        } => {
            assert!(*for_everyone && m.deleted_at.is_some());
            assert_eq!(ids(members), pair);
            assert_eq!(*sender_kind, Some(ParticipantType::User));
        }
        other => panic!("expected MessageDeleted, got {other:?}"),
    }
    // Deleting for me tells only me.
    let second = w.send(&w.user, &id, "again").await;
    assert!(matches!(
        *next(&mut rx).await,
        DomainEvent::MessageCreated { .. }
    ));
    let path = format!("/api/messages/{}", second["id"].as_str().unwrap());
    w.call(&w.astro, Method::DELETE, &path, None).await.data();
    match &*next(&mut rx).await {
        DomainEvent::MessageDeleted {
            members,
            for_everyone,
            ..
        } => {
            assert!(!*for_everyone);
            assert_eq!(ids(members), [w.astro.id]);
        }
        other => panic!("expected MessageDeleted, got {other:?}"),
    }

    // Groups: created, a member added and removed (told too), renamed.
    let body = json!({ "type": "group", "title": "Circle", "memberIds": [w.astro.id] });
    let group = w
        .app
        .post("/api/conversations", Some(&w.admin.access), body)
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    match &*next(&mut rx).await {
        DomainEvent::ConversationCreated { members, .. } => {
            assert_eq!(ids(members), sorted(vec![w.admin.id, w.astro.id]))
        }
        other => panic!("expected ConversationCreated, got {other:?}"),
    }
    let members = format!("/api/conversations/{group}/members");
    w.app
        .post(
            &members,
            Some(&w.admin.access),
            json!({ "memberIds": [w.user.id] }),
        )
        .await
        .data();
    let everyone = sorted(vec![w.admin.id, w.astro.id, w.user.id]);
    match &*next(&mut rx).await {
        DomainEvent::MemberAdded {
            participant,
            members,
            ..
        } => {
            assert_eq!(participant.0, w.user.id);
            assert_eq!(ids(members), everyone);
        }
        other => panic!("expected MemberAdded, got {other:?}"),
    }
    w.call(
        &w.admin,
        Method::DELETE,
        &format!("{members}/{}", w.user.id),
        None,
    )
    .await
    .data();
    match &*next(&mut rx).await {
        DomainEvent::MemberRemoved {
            participant,
            members,
            ..
        } => {
            assert_eq!(participant.0, w.user.id);
            assert_eq!(ids(members), everyone, "the removed member is told too");
        }
        other => panic!("expected MemberRemoved, got {other:?}"),
    }
    w.app
        .patch(
            &format!("/api/conversations/{group}"),
            &w.admin.access,
            json!({ "title": "New moon" }),
        )
        .await
        .data();
    match &*next(&mut rx).await {
        DomainEvent::ConversationUpdated {
            conversation,
            members,
        } => {
            assert_eq!(conversation.title.as_deref(), Some("New moon"));
            assert_eq!(ids(members), sorted(vec![w.admin.id, w.astro.id]));
        }
        other => panic!("expected ConversationUpdated, got {other:?}"),
    }

    // Every event was accounted for: the refused and no-op requests above published nothing.
    loop {
        match rx.try_recv() {
            Ok(event) => assert!(
                !matches!(
                    *event,
                    DomainEvent::MessageCreated { .. }
                        | DomainEvent::ReceiptMoved { .. }
                        | DomainEvent::ConversationCreated { .. }
                        | DomainEvent::ConversationUpdated { .. }
                ),
                "unexpected {event:?}"
            ),
            Err(TryRecvError::Empty) => break,
            Err(other) => panic!("{other:?}"),
        }
    }
}
