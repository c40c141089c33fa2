//! Sending and paging: gap-free seqs under concurrency, idempotent sends,
//! pages by seq, the seeds' field spellings, validation and the send rate.

use std::collections::HashSet;

use serde_json::json;

use super::seqs;
use crate::world::World;

#[tokio::test]
async fn fifty_concurrent_sends_get_seqs_one_to_fifty() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let sends = (0..50).map(|n| {
        let sender = if n % 2 == 0 { &w.user } else { &w.astro };
        w.app.post(
            &path,
            Some(&sender.access),
            json!({ "content": format!("message {n}") }),
        )
    });
    let answers = futures::future::join_all(sends).await;
    let mut acked: Vec<u64> = answers
        .iter()
        .map(|r| r.data()["seq"].as_u64().unwrap())
        .collect();
    acked.sort();
    assert_eq!(acked, (1..=50).collect::<Vec<_>>());

    let stored = w.history(&w.admin, &id).await; // an admin may look in
    assert_eq!(
        seqs(&stored),
        (1..=50).collect::<Vec<_>>(),
        "stored without gaps or duplicates"
    );
    assert_eq!(w.conversation(&w.user, &id).await["lastSeq"], json!(50));
}

#[tokio::test]
async fn resending_a_client_msg_id_returns_the_first_message() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let body = json!({ "content": "only once", "clientMsgId": "device-1:42" });
    let racing = futures::future::join_all(
        (0..5).map(|_| w.app.post(&path, Some(&w.user.access), body.clone())),
    )
    .await;
    let ids: HashSet<String> = racing
        .iter()
        .map(|r| r.data()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(w.history(&w.user, &id).await.len(), 1);
    // Another sender may use the same client id; the same sender elsewhere may not.
    w.app
        .post(&path, Some(&w.astro.access), body.clone())
        .await
        .data();
    let other = w.open(&w.admin, &w.astro).await;
    w.app
        .post(
            &format!("/api/conversations/{other}/messages"),
            Some(&w.astro.access),
            body,
        )
        .await
        .assert_error(409, "client_msg_id_reused");
}

#[tokio::test]
async fn messages_page_by_seq_newest_first_or_forward_after_a_seq() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    for n in 1..=7 {
        w.send(&w.user, &id, &format!("m{n}")).await;
    }
    let get = async |query: &str| {
        w.app
            .get(
                &format!("/api/conversations/{id}/messages?{query}"),
                &w.user.access,
            )
            .await
    };
    let newest = get("limit=3").await;
    assert_eq!(seqs(newest.data()["items"].as_array().unwrap()), [7, 6, 5]);
    assert_eq!(newest.data()["hasMore"], json!(true));
    let older = get("limit=3&before=5").await;
    assert_eq!(seqs(older.data()["items"].as_array().unwrap()), [4, 3, 2]);
    let resync = get("after=4").await;
    assert_eq!(seqs(resync.data()["items"].as_array().unwrap()), [5, 6, 7]);
    assert_eq!(resync.data()["hasMore"], json!(false));
    get("limit=500").await.data(); // clamped, not refused
}

#[tokio::test]
async fn the_seeds_message_endpoints_accept_both_spellings() {
    let w = World::new().await;
    let sent = w
        .app
        .post(
            "/api/messages",
            Some(&w.user.access),
            json!({ "to": w.astro.id, "text": "hi via to" }),
        )
        .await;
    let id = sent.data()["conversationId"].as_str().unwrap().to_owned();
    assert_eq!(sent.data()["conversation"], json!(id));
    // `from`/`sender` are accepted, but the sender is always the caller.
    let spoof = json!({ "conversation": id, "content": "hi back", "messageType": "text", "from": w.user.id, "sender": "5f1d7c0e9b1e8a3d4c2b1a00" });
    assert_eq!(
        w.app
            .post("/api/messages", Some(&w.astro.access), spoof)
            .await
            .data()["from"],
        json!(w.astro.id)
    );
    let image =
        json!({ "conversationId": id, "type": "image", "mediaUrl": "https://cdn.example/c.png" });
    assert_eq!(
        w.app
            .post("/api/messages", Some(&w.user.access), image)
            .await
            .data()["messageType"],
        json!("image")
    );

    let listed = w
        .app
        .get(&format!("/api/messages?conversation={id}"), &w.user.access)
        .await;
    let items = listed.data()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["from"], json!(w.astro.id));
    assert_eq!(items[1]["sender"], items[1]["senderId"]);
    w.app
        .post(
            "/api/messages",
            Some(&w.user.access),
            json!({ "text": "where?" }),
        )
        .await
        .assert_error(422, "validation_failed");
    w.app
        .post(
            "/api/messages",
            Some(&w.user.access),
            json!({ "conversationId": id, "type": "system", "content": "x" }),
        )
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn content_is_validated_then_stored_exactly_as_sent() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let raw = "  <script>alert('x')</script>\n🌙 ";
    assert_eq!(w.send(&w.user, &id, raw).await["content"], json!(raw));
    w.app
        .post(&path, Some(&w.user.access), json!({ "content": "   " }))
        .await
        .assert_error(422, "validation_failed");
    for control in ["nul\u{0}byte", "bell\u{7}", "escape\u{1b}[31m"] {
        w.app
            .post(&path, Some(&w.user.access), json!({ "content": control }))
            .await
            .assert_error(422, "validation_failed");
    }
    let lines = "line one\r\nline two\tand a tab";
    assert_eq!(w.send(&w.user, &id, lines).await["content"], json!(lines));
    w.app
        .post(&path, Some(&w.user.access), json!({ "type": "image" }))
        .await
        .assert_error(422, "validation_failed");
    w.settings(json!({ "maxMessageChars": 10 })).await;
    w.app
        .post(
            &path,
            Some(&w.user.access),
            json!({ "content": "eleven char" }),
        )
        .await
        .assert_error(422, "validation_failed");
    w.app
        .post(
            &path,
            Some(&w.user.access),
            json!({ "content": "ten chars!" }),
        )
        .await
        .data();
}

#[tokio::test]
async fn sends_beyond_the_tenants_rate_get_429() {
    let w = World::new().await;
    w.settings(json!({ "messagesPerParticipant": { "max": 3, "perSeconds": 60 } }))
        .await;
    let id = w.open(&w.user, &w.astro).await;
    for n in 0..3 {
        w.send(&w.user, &id, &format!("m{n}")).await;
    }
    let limited = w
        .app
        .post(
            &format!("/api/conversations/{id}/messages"),
            Some(&w.user.access),
            json!({ "content": "m3" }),
        )
        .await;
    limited.assert_error(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    w.send(&w.astro, &id, "the astrologer still can").await;
}
