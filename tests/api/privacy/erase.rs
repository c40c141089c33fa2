//! Erasure: the profile anonymised, sessions and devices gone, files and
//! messages deleted (or kept, as the tenant says), conversations
//! consistent; asked for by the participant and confirmed or declined by
//! admins; audited, idempotent, per tenant.

use serde_json::json;

use crate::{
    helpers::{Login, Res, within},
    world::World,
};

/// `by`'s request to erase participant `who`.
async fn erase(world: &World, who: impl std::fmt::Display, by: &Login) -> Res {
    world
        .app
        .post(
            &format!("/api/participants/{who}/erase"),
            Some(&by.access),
            json!({}),
        )
        .await
}

/// The world's user erased by its admin.
async fn erase_user(world: &World) {
    erase(world, &world.user.id, &world.admin).await.data();
}

#[tokio::test]
async fn an_erased_participant_is_anonymised_signed_out_and_their_messages_deleted() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    world
        .send(&world.user, &conversation, "my birth details: 6:10, Pune")
        .await;
    world.send(&world.astro, &conversation, "thanks").await;
    world
        .send(&world.user, &conversation, "my last words")
        .await;
    world
        .app
        .post(
            "/api/devices",
            Some(&world.user.access),
            json!({ "platform": "fcm", "token": "fcm-token-of-uma" }),
        )
        .await
        .data();
    let asked = world
        .app
        .post(
            "/api/users/me/erasure-request",
            Some(&world.user.access),
            json!({ "reason": "leaving" }),
        )
        .await;
    assert_eq!(asked.data()["status"], json!("pending"));
    let queue = world
        .app
        .get("/api/erasure-requests?status=pending", &world.admin.access)
        .await;
    assert_eq!(queue.data()[0]["participantId"], json!(world.user.id));

    let erased = erase(&world, &world.user.id, &world.admin).await;

    let p = erased.data();
    assert_eq!(p["name"], json!("Deleted user"));
    assert!(p["email"].is_null() && p["phone"].is_null() && p["avatar"].is_null());
    assert_eq!(p["blocked"], json!(true));
    // Signed out everywhere; devices gone.
    world
        .app
        .get("/api/conversations", &world.user.access)
        .await
        .assert_error(401, "session_revoked");
    let (devices,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM devices WHERE participant_id = ?")
            .bind(world.user.id)
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(devices, 0);
    // The astrologer's view: the same seqs, their messages deleted, the rest kept.
    let history = world.history(&world.astro, &conversation).await;
    let seqs: Vec<u64> = history.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(history[0]["isDeleted"], json!(true));
    assert!(history[0]["content"].is_null());
    assert_eq!(history[1]["content"], json!("thanks"));
    assert_eq!(history[2]["isDeleted"], json!(true));
    let seen = world.conversation(&world.astro, &conversation).await;
    assert_eq!(seen["lastSeq"], json!(3));
    let member = seen["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(world.user.id))
        .unwrap()
        .clone();
    assert_eq!(member["name"], json!("Deleted user"));
    // The request is settled; the erasure is audited.
    let done = world
        .app
        .get("/api/erasure-requests", &world.admin.access)
        .await;
    assert_eq!(done.data()[0]["status"], json!("done"));
    let audit = world
        .app
        .get(
            "/api/audit-log?action=participant.erase",
            &world.admin.access,
        )
        .await;
    assert_eq!(audit.data()["items"].as_array().unwrap().len(), 1);

    // Again: nothing more changes, and it still answers.
    let again = erase(&world, &world.user.id, &world.admin).await;
    assert_eq!(again.data()["name"], json!("Deleted user"));
    assert_eq!(world.history(&world.astro, &conversation).await.len(), 3);
}

#[tokio::test]
async fn a_tenant_may_keep_an_erased_participant_s_messages() {
    let world = World::new().await;
    world.settings(json!({ "erasedMessages": "keep" })).await;
    let conversation = world.open(&world.user, &world.astro).await;
    world
        .send(&world.user, &conversation, "kept for the record")
        .await;
    erase_user(&world).await;
    let history = world.history(&world.astro, &conversation).await;
    assert_eq!(history[0]["content"], json!("kept for the record"));
}

#[tokio::test]
async fn erasure_is_for_admins_within_their_tenant_and_requests_can_be_declined() {
    let world = World::new().await;
    for who in [&world.astro, &world.stranger] {
        erase(&world, &world.user.id, who)
            .await
            .assert_error(403, "forbidden");
    }
    let rival = world.app.tenant("rival").await;
    let rival_admin = world.app.login_admin(&rival).await;
    erase(&world, &world.user.id, &rival_admin)
        .await
        .assert_error(404, "not_found");
    erase(&world, &world.admin.id, &world.admin)
        .await
        .assert_error(409, "cannot_erase_self");

    let asked = world
        .app
        .post(
            "/api/users/me/erasure-request",
            Some(&world.stranger.access),
            json!({}),
        )
        .await;
    let id = asked.data()["id"].as_str().unwrap().to_owned();
    // Asking twice gives the same request.
    let again = world
        .app
        .post(
            "/api/users/me/erasure-request",
            Some(&world.stranger.access),
            json!({}),
        )
        .await;
    assert_eq!(again.data()["id"], json!(id));
    let decline = format!("/api/erasure-requests/{id}/decline");
    world
        .app
        .post(&decline, Some(&rival_admin.access), json!({}))
        .await
        .assert_error(404, "not_found");
    world
        .app
        .post(&decline, Some(&world.admin.access), json!({}))
        .await
        .data();
    let list = world
        .app
        .get("/api/erasure-requests?status=declined", &world.admin.access)
        .await;
    assert_eq!(list.data().as_array().unwrap().len(), 1);
    // Still there.
    within(
        std::time::Duration::from_secs(1),
        "the stranger still signed in",
        async || {
            world
                .app
                .get("/api/conversations", &world.stranger.access)
                .await
                .status
                .is_success()
        },
    )
    .await;
    let theirs = world
        .app
        .get("/api/erasure-requests", &rival_admin.access)
        .await;
    assert_eq!(theirs.data(), &json!([]));
}

#[tokio::test]
async fn an_erasure_of_many_messages_tombstones_them_all_batch_by_batch() {
    let world = World::new().await;
    world
        .settings(json!({ "messagesPerParticipant": { "max": 10000, "perSeconds": 60 } }))
        .await;
    let conversation = world.open(&world.user, &world.astro).await;
    let path = format!("/api/conversations/{conversation}/messages");
    // More than two of the erasure's batches (200), the astrologer's reply
    // between them and the user's messages last.
    let sends = (0..430).map(|n| {
        world.app.post(
            &path,
            Some(&world.user.access),
            json!({ "content": format!("m{n}") }),
        )
    });
    for sent in futures::future::join_all(sends).await {
        sent.data();
    }
    world.send(&world.astro, &conversation, "thanks").await;
    for n in 0..20 {
        world
            .send(&world.user, &conversation, &format!("late {n}"))
            .await;
    }

    erase_user(&world).await;

    let mut seen = Vec::new();
    loop {
        let after = seen
            .last()
            .map_or(0, |m: &serde_json::Value| m["seq"].as_u64().unwrap());
        let page = world
            .app
            .get(
                &format!("{path}?after={after}&limit=100"),
                &world.astro.access,
            )
            .await
            .data()["items"]
            .as_array()
            .unwrap()
            .clone();
        if page.is_empty() {
            break;
        }
        seen.extend(page);
    }
    let seqs: Vec<u64> = seen.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=451).collect::<Vec<_>>(), "every place kept");
    let (kept, gone): (Vec<_>, Vec<_>) = seen
        .iter()
        .partition(|m| m["senderId"] == json!(world.astro.id));
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["content"], json!("thanks"));
    assert!(
        gone.iter()
            .all(|m| m["isDeleted"] == json!(true) && m["content"].is_null()),
        "every message of the erased participant is a tombstone"
    );
    // The conversation's preview is the last message's: a tombstone now.
    let listed = world
        .app
        .get("/api/conversations", &world.astro.access)
        .await;
    let row = listed.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == json!(conversation))
        .cloned()
        .unwrap();
    assert!(!row.to_string().contains("late 19"), "{row}");
}
