//! Reading: unread counts, receipt cursors and the sender's status, search.

use reqwest::Method;
use serde_json::json;

use crate::world::World;

#[tokio::test]
async fn unread_counts_follow_reads_deletes_and_hides_and_ignore_edits_and_own_messages() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let unread = || async {
        w.conversation(&w.user, &id).await["unreadCount"]
            .as_u64()
            .unwrap()
    };
    w.send(&w.user, &id, "my own").await;
    let m2 = w.send(&w.astro, &id, "one").await;
    w.send(&w.astro, &id, "two").await;
    let m4 = w.send(&w.astro, &id, "three").await;
    assert_eq!(unread().await, 3);

    w.call(
        &w.user,
        Method::POST,
        &format!("/api/conversations/{id}/read"),
        Some(json!({ "seq": 3 })),
    )
    .await
    .data();
    assert_eq!(unread().await, 1);
    w.app
        .patch(
            &format!("/api/messages/{}", m4["id"].as_str().unwrap()),
            &w.astro.access,
            json!({ "content": "3!" }),
        )
        .await
        .data();
    assert_eq!(unread().await, 1, "an edit is not a new message");
    w.call(
        &w.astro,
        Method::DELETE,
        &format!(
            "/api/messages/{}?forEveryone=true",
            m4["id"].as_str().unwrap()
        ),
        None,
    )
    .await
    .data();
    assert_eq!(
        unread().await,
        0,
        "a message deleted for everyone is not unread"
    );

    let m6 = w.send(&w.astro, &id, "four").await;
    assert_eq!(unread().await, 1);
    w.call(
        &w.user,
        Method::DELETE,
        &format!("/api/messages/{}", m6["id"].as_str().unwrap()),
        None,
    )
    .await
    .data();
    assert_eq!(unread().await, 0, "a message hidden for me is not unread");

    // The list agrees with the single view.
    let list = w
        .app
        .get("/api/conversations?unread=true", &w.user.access)
        .await;
    assert!(list.data()["items"].as_array().unwrap().is_empty());
    let _ = m2;
}

#[tokio::test]
async fn receipt_cursors_only_move_forward_and_give_the_sender_a_status() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let sent = w.send(&w.user, &id, "hello").await;
    assert_eq!(sent["status"], json!("sent"));
    let status = || async { w.history(&w.user, &id).await[0]["status"].clone() };

    let delivered = format!("/api/conversations/{id}/delivered");
    let read = format!("/api/conversations/{id}/read");
    let cursors = w
        .call(
            &w.astro,
            Method::POST,
            &delivered,
            Some(json!({ "seq": 1 })),
        )
        .await;
    assert_eq!(cursors.data(), &json!({ "deliveredSeq": 1, "readSeq": 0 }));
    assert_eq!(status().await, json!("delivered"));
    // Seed 004 marks read by message ids.
    let by_ids = w
        .call(
            &w.astro,
            Method::POST,
            &read,
            Some(json!({ "messageIds": [sent["id"]] })),
        )
        .await;
    assert_eq!(by_ids.data(), &json!({ "deliveredSeq": 1, "readSeq": 1 }));
    assert_eq!(status().await, json!("read"));
    // Backwards and beyond the end are ignored, not errors.
    let back = w
        .call(&w.astro, Method::POST, &read, Some(json!({ "seq": 0 })))
        .await;
    assert_eq!(back.data()["readSeq"], json!(1));
    let beyond = w
        .call(&w.astro, Method::POST, &read, Some(json!({ "seq": 99 })))
        .await;
    assert_eq!(beyond.data()["readSeq"], json!(1));
    w.call(&w.astro, Method::POST, &read, Some(json!({})))
        .await
        .assert_error(422, "validation_failed");
    w.call(
        &w.astro,
        Method::POST,
        &read,
        Some(json!({ "messageIds": [] })),
    )
    .await
    .assert_error(422, "validation_failed");
    let unknown = uuid::Uuid::now_v7();
    w.call(
        &w.astro,
        Method::POST,
        &read,
        Some(json!({ "messageIds": [unknown] })),
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn search_finds_only_the_callers_messages() {
    let w = World::new().await;
    let mine = w.open(&w.user, &w.astro).await;
    let theirs = w.open(&w.admin, &w.astro).await;
    w.send(&w.user, &mine, "Saturn transit next week").await;
    w.send(&w.astro, &mine, "Jupiter is kind").await;
    w.send(&w.admin, &theirs, "Saturn report for the admin")
        .await;
    let gone = w.send(&w.user, &mine, "Saturn regrets").await;
    w.call(
        &w.user,
        Method::DELETE,
        &format!(
            "/api/messages/{}?forEveryone=true",
            gone["id"].as_str().unwrap()
        ),
        None,
    )
    .await
    .data();

    let found = w
        .app
        .get("/api/messages/search?q=saturn", &w.user.access)
        .await;
    let texts: Vec<&str> = found.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Saturn transit next week"]);
    // Results are whole messages: sender type, status (the astrologer replied after it).
    assert_eq!(found.data()["items"][0]["senderType"], json!("user"));
    assert_eq!(found.data()["items"][0]["status"], json!("read"));
    let admin_found = w
        .app
        .get("/api/messages/search?q=saturn", &w.admin.access)
        .await;
    assert_eq!(
        admin_found.data()["items"].as_array().unwrap().len(),
        1,
        "admins search their own conversations"
    );
    let short = w
        .app
        .get(
            &format!("/api/messages/search?q=is&conversationId={mine}"),
            &w.user.access,
        )
        .await;
    assert_eq!(
        short.data()["items"][0]["content"],
        json!("Jupiter is kind")
    );
    w.app
        .get(
            &format!("/api/messages/search?q=saturn&conversationId={theirs}"),
            &w.user.access,
        )
        .await
        .assert_error(404, "not_found");
    w.app
        .get("/api/messages/search?q=%20", &w.user.access)
        .await
        .assert_error(422, "validation_failed");
}
