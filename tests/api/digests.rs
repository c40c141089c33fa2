//! Email digests of unread messages: one per delay window to a participant
//! whose message notifications waited unread for their tenant's delay
//! (astrologers and admins 30 minutes by default, users none), none once
//! the conversation is read, one node's claim excluding another's, and a
//! claim left pending by a crash taken again. Time is moved by ageing rows
//! in SQL; the rounds are run directly (`Core::send_digests`).

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use crate::{
    helpers::{Login, TestApp},
    outbox::{Outbox, app_with_outbox},
    world::{World, inbox_until},
};

/// The messaging cast in `acme` with an SMTP outbox, and its digest delays
/// set (`emailDigestMinutes`) when given.
async fn cast(delays: Option<Value>) -> (World, Outbox) {
    let (app, outbox) = app_with_outbox().await;
    let world = World::in_app(app, "acme").await;
    if let Some(delays) = delays {
        set_delays(&world.app, &world.admin, delays).await;
    }
    (world, outbox)
}

async fn set_delays(app: &TestApp, admin: &Login, delays: Value) {
    app.settings(admin, json!({ "emailDigestMinutes": delays }))
        .await;
}

/// Sends `texts` from `from` to `to` and waits for `to`'s notification.
async fn unread(world: &World, from: &Login, to: &Login, texts: &[&str]) -> String {
    let conversation = world.open(from, to).await;
    for text in texts {
        world.send(from, &conversation, text).await;
    }
    let conv = conversation.clone();
    inbox_until(&world.app, to, |items| {
        items.iter().any(|n| {
            n["conversationId"] == conv.as_str() && n["count"].as_u64() == Some(texts.len() as u64)
        })
    })
    .await;
    conversation
}

/// Moves every notification and digest `minutes` into the past: as if
/// that much time passed.
async fn time_passes(app: &TestApp, minutes: u32) {
    sqlx::query(
        "UPDATE notifications SET created_at = created_at - INTERVAL ? MINUTE,
             updated_at = updated_at - INTERVAL ? MINUTE",
    )
    .bind(minutes)
    .bind(minutes)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE notification_digests SET sent_at = sent_at - INTERVAL ? MINUTE")
        .bind(minutes)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn round(app: &TestApp) -> usize {
    app.core.send_digests(100).await.unwrap()
}

#[tokio::test]
async fn an_astrologer_unread_past_the_delay_gets_one_digest_per_window() {
    let (world, outbox) = cast(Some(json!({ "astrologers": 1 }))).await;
    unread(
        &world,
        &world.user,
        &world.astro,
        &["hello", "my birth time is 6:10"],
    )
    .await;
    assert_eq!(round(&world.app).await, 0, "not a minute old yet");

    time_passes(&world.app, 2).await;
    // Two nodes at once: one sends.
    let (a, b) = tokio::join!(round(&world.app), round(&world.app));
    assert_eq!(a + b, 1);

    let mail = outbox.mail.next().await;
    assert_eq!(mail.to, ["asha@acme.test"]);
    assert_eq!(mail.subject(), "You have 2 unread messages on Tenant acme");
    assert!(mail.is_multipart_alternative());
    let text = mail.text();
    assert!(
        text.contains("Uma (2 messages): my birth time is 6:10"),
        "{text}"
    );
    assert!(text.contains(&world.app.base), "{text}");
    assert!(mail.html().contains("Uma") && mail.html().contains("Tenant acme"));
    let (state, count): (String, u32) =
        sqlx::query_as("SELECT state, unread FROM notification_digests")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), count), ("sent", 2));

    // Within the window nothing more, not even for a new message.
    assert_eq!(round(&world.app).await, 0);
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "still there?").await;
    inbox_until(&world.app, &world.astro, |i| {
        i.iter().any(|n| n["count"] == 3)
    })
    .await;
    assert_eq!(round(&world.app).await, 0);
    assert!(outbox.mail.is_empty().await);

    // The next window tells of it; then, nothing new, nothing is sent.
    time_passes(&world.app, 2).await;
    assert_eq!(round(&world.app).await, 1);
    assert!(outbox.mail.next().await.text().contains("still there?"));
    time_passes(&world.app, 2).await;
    assert_eq!(round(&world.app).await, 0);
    assert!(outbox.mail.is_empty().await);
}

#[tokio::test]
async fn with_no_digest_setting_users_get_none_and_astrologers_wait_thirty_minutes() {
    let (world, outbox) = cast(None).await;
    sqlx::query("UPDATE tenant_settings SET settings = JSON_REMOVE(settings, '$.emailDigest')")
        .execute(&world.app.pool)
        .await
        .unwrap();
    unread(&world, &world.user, &world.astro, &["hello"]).await;
    // The user hears from another astrologer they consult.
    let ravi = world
        .app
        .participant_login(&world.tenant, ParticipantType::Astrologer, "Ravi")
        .await;
    let consultation =
        json!({ "userId": world.user.id, "astrologerId": ravi.id, "status": "active" });
    world
        .app
        .post(
            "/api/consultations",
            Some(&world.admin.access),
            consultation,
        )
        .await
        .data();
    unread(&world, &ravi, &world.user, &["namaste"]).await;

    time_passes(&world.app, 20).await;
    assert_eq!(round(&world.app).await, 0);
    time_passes(&world.app, 11).await;
    assert_eq!(round(&world.app).await, 1);
    assert_eq!(outbox.mail.next().await.to, ["asha@acme.test"]);

    time_passes(&world.app, 24 * 60).await;
    assert_eq!(round(&world.app).await, 0, "users get none by default");
    assert!(outbox.mail.is_empty().await);
}

#[tokio::test]
async fn a_participant_who_read_the_conversation_gets_no_digest() {
    let (world, outbox) = cast(Some(json!({ "astrologers": 1 }))).await;
    let by_receipt = unread(&world, &world.user, &world.astro, &["one", "two"]).await;
    let by_inbox = unread(&world, &world.admin, &world.astro, &["from the admin"]).await;

    // One conversation read in the app (its receipt), the other's entry in
    // the inbox.
    let entry = inbox_until(&world.app, &world.astro, |_| true)
        .await
        .into_iter()
        .find(|n| n["conversationId"] == by_inbox.as_str())
        .unwrap();
    world
        .call(
            &world.astro,
            Method::POST,
            &format!("/api/conversations/{by_receipt}/read"),
            Some(json!({ "seq": 2 })),
        )
        .await
        .data();
    let read = format!("/api/notifications/{}/read", entry["id"].as_str().unwrap());
    world
        .call(&world.astro, Method::PUT, &read, None)
        .await
        .data();
    time_passes(&world.app, 5).await;

    assert_eq!(round(&world.app).await, 0);
    assert!(outbox.mail.is_empty().await);
}

#[tokio::test]
async fn another_tenants_delay_does_not_apply_to_this_one() {
    let (world, outbox) = cast(None).await;
    let rival = world.app.tenant("rival").await;
    let rival_admin = world.app.login_admin(&rival).await;
    set_delays(&world.app, &rival_admin, json!({ "astrologers": 1 })).await;
    unread(&world, &world.user, &world.astro, &["hello"]).await;

    time_passes(&world.app, 5).await;
    assert_eq!(round(&world.app).await, 0, "acme's astrologers wait 30 min");
    time_passes(&world.app, 26).await;
    assert_eq!(round(&world.app).await, 1);
    assert_eq!(outbox.mail.next().await.to, ["asha@acme.test"]);
}

#[tokio::test]
async fn a_claim_left_pending_by_a_crash_is_taken_again_after_ten_minutes() {
    let (world, outbox) = cast(Some(json!({ "astrologers": 1 }))).await;
    unread(&world, &world.user, &world.astro, &["hello"]).await;
    time_passes(&world.app, 30).await;
    // A node claimed the digest and died before sending it.
    sqlx::query(
        "INSERT INTO notification_digests (tenant_id, participant_id, state, unread, sent_at)
         VALUES (?, ?, 'pending', 1, ?)",
    )
    .bind(world.tenant.id)
    .bind(world.astro.id)
    .bind(chrono::Utc::now() - chrono::Duration::minutes(2))
    .execute(&world.app.pool)
    .await
    .unwrap();

    assert_eq!(round(&world.app).await, 0, "maybe still being sent");
    time_passes(&world.app, 9).await;
    assert_eq!(round(&world.app).await, 1);
    assert_eq!(outbox.mail.next().await.to, ["asha@acme.test"]);
}
