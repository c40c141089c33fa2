//! The in-app inbox: made from the log by the notifications worker for
//! members who are not connected, one per conversation while unread
//! (collapsed and counted), never for the sender; read, read-all, delete
//! and the unread count; one's own only; nothing lost or doubled across a
//! restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::{
    helpers::{Login, TestApp},
    world::{World, inbox_until},
};

/// Waits until the worker has read the whole log.
pub(crate) async fn settled(app: &TestApp) {
    crate::helpers::within(
        Duration::from_secs(10),
        "the notifications worker catching up",
        async || {
            let (checkpoint, head): (u64, u64) = sqlx::query_as(
                "SELECT c.position, h.position FROM log_checkpoints c, log_head h
             WHERE c.name = 'notifications' AND h.id = 1",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            checkpoint == head
        },
    )
    .await;
}

/// The cast with empty inboxes: the consultation `World::new` records
/// notifies both its sides (tested below); these tests start after that.
async fn quiet_world() -> World {
    let world = World::new().await;
    settled(&world.app).await;
    sqlx::query("DELETE FROM notifications")
        .execute(&world.app.pool)
        .await
        .unwrap();
    world
}

/// The stranger asks the astrologer for a chat.
async fn ask_the_astrologer(world: &World) {
    world
        .app
        .post(
            "/api/chat-requests",
            Some(&world.stranger.access),
            json!({ "to": world.astro.id, "note": "about my career" }),
        )
        .await
        .data();
}

async fn unread(app: &TestApp, who: &Login) -> u64 {
    app.get("/api/notifications/unread-count", &who.access)
        .await
        .data()["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn three_messages_to_an_offline_astrologer_make_one_notification_counting_three() {
    let world = quiet_world().await;
    let conversation = world.open(&world.user, &world.astro).await;

    for text in ["hello", "are you there?", "my birth time is 6:10"] {
        world.send(&world.user, &conversation, text).await;
    }

    let items = inbox_until(&world.app, &world.astro, |i| {
        i.first().is_some_and(|n| n["count"] == 3)
    })
    .await;
    assert_eq!(items.len(), 1, "{items:?}");
    let n = &items[0];
    assert_eq!(n["type"], "message");
    assert_eq!(n["title"], "Uma");
    assert_eq!(n["body"], "my birth time is 6:10");
    assert_eq!(n["conversationId"], conversation.as_str());
    assert_eq!(n["seq"], 3);
    assert_eq!(n["isRead"], false);
    assert_eq!(unread(&world.app, &world.astro).await, 1);
    // Never the sender.
    settled(&world.app).await;
    assert_eq!(unread(&world.app, &world.user).await, 0);
}

#[tokio::test]
async fn a_connected_member_gets_no_notification() {
    let world = quiet_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.connected(&world.astro).await;

    world.send(&world.user, &conversation, "hello").await;

    settled(&world.app).await;
    assert_eq!(unread(&world.app, &world.astro).await, 0);
}

#[tokio::test]
async fn reading_marks_read_stops_collapsing_and_deleting_removes() {
    let world = quiet_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "one").await;
    let first = inbox_until(&world.app, &world.astro, |i| !i.is_empty()).await[0].clone();
    let id = first["id"].as_str().unwrap();

    let read = world
        .call(
            &world.astro,
            Method::PUT,
            &format!("/api/notifications/{id}/read"),
            None,
        )
        .await;
    assert_eq!(read.data()["isRead"], true);
    assert_eq!(unread(&world.app, &world.astro).await, 0);

    // A new message after reading starts a new entry.
    world.send(&world.user, &conversation, "two").await;
    let items = inbox_until(&world.app, &world.astro, |i| i.len() == 2).await;
    assert_eq!(items[0]["body"], "two");
    assert_eq!(items[0]["count"], 1);
    let unread_only = world
        .app
        .get("/notifications?unread=true", &world.astro.access)
        .await;
    assert_eq!(unread_only.data()["items"].as_array().unwrap().len(), 1);

    let all = world
        .call(
            &world.astro,
            Method::PUT,
            "/api/notifications/read-all",
            None,
        )
        .await;
    assert_eq!(all.data()["count"], 1);
    assert_eq!(unread(&world.app, &world.astro).await, 0);

    world
        .call(
            &world.astro,
            Method::DELETE,
            &format!("/api/notifications/{id}"),
            None,
        )
        .await
        .data();
    let items = world
        .app
        .get("/api/notifications", &world.astro.access)
        .await;
    assert_eq!(items.data()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn anyone_elses_notification_is_not_found_in_this_tenant_or_another() {
    let world = quiet_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "hello").await;
    let n = inbox_until(&world.app, &world.astro, |i| !i.is_empty()).await[0].clone();
    let id = n["id"].as_str().unwrap();
    world
        .assert_not_found_for_all_but_the_astrologer(&[
            (Method::PUT, format!("/api/notifications/{id}/read")),
            (Method::DELETE, format!("/api/notifications/{id}")),
        ])
        .await;
    assert_eq!(unread(&world.app, &world.astro).await, 1);
}

#[tokio::test]
async fn chat_requests_notify_the_astrologer_and_the_answer_notifies_the_user() {
    let world = quiet_world().await;
    ask_the_astrologer(&world).await;
    let asked = inbox_until(&world.app, &world.astro, |i| !i.is_empty()).await;
    assert_eq!(asked[0]["type"], "chat_request");
    assert_eq!(asked[0]["title"], "Sam");
    assert_eq!(asked[0]["body"], "about my career");

    let request = asked[0]["subjectId"].as_str().unwrap();
    world
        .app
        .post(
            &format!("/api/chat-requests/{request}/accept"),
            Some(&world.astro.access),
            json!({}),
        )
        .await
        .data();
    let answered = inbox_until(&world.app, &world.stranger, |i| !i.is_empty()).await;
    assert_eq!(answered[0]["type"], "chat_request_answered");
    assert_eq!(answered[0]["body"], "accepted your chat request");
}

#[tokio::test]
async fn a_restart_right_after_the_messages_loses_no_notification_and_doubles_none() {
    let world = quiet_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "one").await;
    world.send(&world.user, &conversation, "two").await;
    let World { app, astro, .. } = world;

    // Down before or after the worker got to them: either way, once back,
    // one notification counting both.
    let app = app.restart().await;

    let items = inbox_until(&app, &astro, |i| i.first().is_some_and(|n| n["count"] == 2)).await;
    settled(&app).await;
    assert_eq!(items.len(), 1);
    let again = app.get("/api/notifications", &astro.access).await;
    assert_eq!(again.data()["items"][0]["count"], 2);
}

#[tokio::test]
async fn notifications_older_than_the_tenants_retention_are_purged() {
    let world = quiet_world().await;
    world
        .settings(json!({ "notificationRetentionDays": 7 }))
        .await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "hello").await;
    inbox_until(&world.app, &world.astro, |i| !i.is_empty()).await;
    sqlx::query("UPDATE notifications SET created_at = created_at - INTERVAL 8 DAY")
        .execute(&world.app.pool)
        .await
        .unwrap();

    assert_eq!(world.app.core.purge_notifications().await.unwrap(), 1);
    assert_eq!(unread(&world.app, &world.astro).await, 0);
}

#[tokio::test]
async fn a_muted_conversation_makes_no_notification() {
    let world = quiet_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    world
        .call(
            &world.astro,
            Method::POST,
            &format!("/api/conversations/{conversation}/mute"),
            Some(json!({ "muted": true })),
        )
        .await
        .data();

    world.send(&world.user, &conversation, "hello").await;

    settled(&world.app).await;
    assert_eq!(unread(&world.app, &world.astro).await, 0);
}

#[tokio::test]
async fn preferences_round_trip_and_bad_ones_are_422() {
    let world = quiet_world().await;
    let path = "/api/notifications/preferences";
    let initial = world.app.get(path, &world.astro.access).await;
    assert_eq!(
        initial.data(),
        &json!({ "push": "all", "quietHours": null })
    );

    let wanted = json!({
        "push": "mentions_and_calls",
        "quietHours": { "start": "22:00", "end": "07:00", "utcOffsetMinutes": 330 }
    });
    let saved = world
        .call(&world.astro, Method::PUT, path, Some(wanted.clone()))
        .await;
    assert_eq!(saved.data(), &wanted);
    assert_eq!(
        world.app.get(path, &world.astro.access).await.data(),
        &wanted
    );
    // Another participant's are their own.
    assert_eq!(
        world.app.get(path, &world.user.access).await.data()["push"],
        "all"
    );

    for bad in [
        json!({ "push": "loud" }),
        json!({ "push": "all", "quietHours": { "start": "25:00", "end": "07:00", "utcOffsetMinutes": 0 } }),
        json!({ "push": "all", "quietHours": { "start": "07:00", "end": "07:00", "utcOffsetMinutes": 0 } }),
        json!({ "push": "all", "quietHours": { "start": "22:00", "end": "07:00", "utcOffsetMinutes": 9999 } }),
    ] {
        world
            .call(&world.astro, Method::PUT, path, Some(bad))
            .await
            .assert_error(422, "validation_failed");
    }
}

#[tokio::test]
async fn a_consultation_recorded_or_changed_notifies_both_sides() {
    let world = World::new().await;
    // The cast's consultation (recorded by World::new) is in the inbox of both.
    let user = inbox_until(&world.app, &world.user, |i| !i.is_empty()).await;
    assert_eq!(user[0]["type"], "consultation");
    assert_eq!(user[0]["title"], "Asha");
    assert_eq!(user[0]["body"], "Your consultation with Asha is active");
    let astro = inbox_until(&world.app, &world.astro, |i| !i.is_empty()).await;
    assert_eq!(astro[0]["body"], "Your consultation with Uma is active");

    let id = user[0]["subjectId"].as_str().unwrap();
    world
        .call(
            &world.admin,
            Method::PATCH,
            &format!("/api/consultations/{id}"),
            Some(json!({ "status": "completed" })),
        )
        .await
        .data();
    let changed = inbox_until(&world.app, &world.user, |i| i.len() == 2).await;
    assert_eq!(
        changed[0]["body"],
        "Your consultation with Asha is completed"
    );
}

#[tokio::test]
async fn one_round_stores_many_recipients_conversations_and_kinds_together() {
    let world = quiet_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    settled(&world.app).await;
    // The worker waits at its checkpoint while these are committed, then
    // takes them all in one round.
    let mut holder = world.app.pool.begin().await.unwrap();
    sqlx::query("SELECT position FROM log_checkpoints WHERE name = 'notifications' FOR UPDATE")
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    world.send(&world.user, &conversation, "one").await;
    world.send(&world.user, &conversation, "two").await;
    world.send(&world.astro, &conversation, "reply").await;
    ask_the_astrologer(&world).await;
    holder.rollback().await.unwrap();
    settled(&world.app).await;

    let astro = inbox_until(&world.app, &world.astro, |i| i.len() == 2).await;
    let kinds: Vec<(&str, u64)> = astro
        .iter()
        .map(|n| (n["type"].as_str().unwrap(), n["count"].as_u64().unwrap()))
        .collect();
    assert!(kinds.contains(&("message", 2)), "{astro:?}");
    assert!(kinds.contains(&("chat_request", 1)), "{astro:?}");
    let user = inbox_until(&world.app, &world.user, |i| i.len() == 1).await;
    assert_eq!(
        (user[0]["body"].as_str(), user[0]["count"].as_u64()),
        (Some("reply"), Some(1))
    );
    // One push waiting for each.
    let pushes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pushes p JOIN notifications n ON n.id = p.notification_id",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(pushes, 3);

    // A later round collapses into the stored one.
    world.send(&world.user, &conversation, "three").await;
    let astro = inbox_until(&world.app, &world.astro, |i| {
        i.iter().any(|n| n["type"] == "message" && n["count"] == 3)
    })
    .await;
    assert_eq!(astro.len(), 2, "{astro:?}");
}
