//! Conversations and messages: gap-free seqs under concurrency, idempotent
//! sends, paging, unread counts, receipts, edits, deletions, reactions,
//! forwards, hiding, groups, closing, and the seeds' endpoints.

use std::collections::HashSet;

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use crate::world::World;

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn opening_a_direct_conversation_twice_or_at_once_gives_one() {
    let w = World::new().await;
    let first = w.open(&w.user, &w.astro).await;
    assert_eq!(
        w.open(&w.astro, &w.user).await,
        first,
        "the pair is unordered"
    );

    let body =
        json!({ "participantId": w.astro.id, "contextType": "consultation", "contextId": "c-1" });
    let racing = futures::future::join_all((0..10).map(|_| {
        w.app
            .post("/api/conversations", Some(&w.user.access), body.clone())
    }))
    .await;
    let ids: HashSet<String> = racing
        .iter()
        .map(|r| r.data()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "racing opens made {ids:?}");
    assert!(
        !ids.contains(&first),
        "another context is another conversation"
    );
    let view = w.conversation(&w.user, ids.iter().next().unwrap()).await;
    assert_eq!(
        (view["contextType"].as_str(), view["contextId"].as_str()),
        (Some("consultation"), Some("c-1"))
    );
}

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
async fn senders_edit_within_the_window_and_others_never() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let message = w.send(&w.user, &id, "typo").await;
    let path = format!("/api/messages/{}", message["id"].as_str().unwrap());
    // Reactions and receipts survive an edit, and the answer shows them.
    w.app
        .post(
            &format!("{path}/reactions"),
            Some(&w.astro.access),
            json!({ "emoji": "👍" }),
        )
        .await
        .data();
    w.call(
        &w.astro,
        Method::POST,
        &format!("/api/conversations/{id}/read"),
        Some(json!({ "seq": 1 })),
    )
    .await
    .data();
    let edited = w
        .app
        .patch(&path, &w.user.access, json!({ "text": "fixed" }))
        .await;
    assert_eq!(edited.data()["content"], json!("fixed"));
    assert_eq!(edited.data()["reactions"][0]["emoji"], json!("👍"));
    assert_eq!(edited.data()["status"], json!("read"));
    assert_eq!(edited.data()["senderType"], json!("user"));
    assert!(edited.data()["editedAt"].is_string());
    assert_eq!(edited.data()["seq"], message["seq"]);
    w.app
        .patch(&path, &w.astro.access, json!({ "content": "not mine" }))
        .await
        .assert_error(403, "forbidden");
    w.app
        .patch(&path, &w.user.access, json!({ "content": " " }))
        .await
        .assert_error(422, "validation_failed");

    w.app
        .patch(
            "/api/settings",
            &w.admin.access,
            json!({ "messageEditWindowSeconds": 0 }),
        )
        .await
        .data();
    w.app
        .patch(&path, &w.user.access, json!({ "content": "too late" }))
        .await
        .assert_error(409, "edit_window_passed");
}

#[tokio::test]
async fn deleting_for_everyone_leaves_a_tombstone_and_for_me_hides_it_for_me() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let mine = w.send(&w.user, &id, "regret").await;
    let theirs = w.send(&w.astro, &id, "reply").await;
    let path = |m: &Value| format!("/api/messages/{}", m["id"].as_str().unwrap());

    w.call(
        &w.astro,
        Method::DELETE,
        &format!("{}?forEveryone=true", path(&mine)),
        None,
    )
    .await
    .assert_error(403, "forbidden");
    let gone = w
        .call(
            &w.user,
            Method::DELETE,
            &format!("{}?scope=everyone", path(&mine)),
            None,
        )
        .await;
    assert_eq!(gone.data()["isDeleted"], json!(true));
    let seen = w.history(&w.astro, &id).await;
    assert_eq!(seen[0]["seq"], json!(1));
    assert!(seen[0]["content"].is_null() && seen[0]["isDeleted"] == json!(true));
    assert_eq!(
        w.conversation(&w.astro, &id).await["lastMessage"]["content"],
        json!("reply")
    );

    w.call(&w.user, Method::DELETE, &path(&theirs), None)
        .await
        .data();
    assert_eq!(seqs(&w.history(&w.user, &id).await), [1], "hidden for me");
    assert_eq!(
        seqs(&w.history(&w.astro, &id).await),
        [1, 2],
        "not for them"
    );
}

#[tokio::test]
async fn one_reaction_per_participant_toggled() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let message = w.send(&w.astro, &id, "good news").await;
    let path = format!(
        "/api/messages/{}/reactions",
        message["id"].as_str().unwrap()
    );
    let react = async |who: &crate::helpers::Login, emoji: &str| {
        w.app
            .post(&path, Some(&who.access), json!({ "emoji": emoji }))
            .await
    };

    assert_eq!(
        react(&w.user, "🙏").await.data().as_array().unwrap().len(),
        1
    );
    let replaced = react(&w.user, "❤️").await;
    assert_eq!(
        replaced.data(),
        &json!([{ "participantId": w.user.id, "emoji": "❤️" }])
    );
    assert_eq!(
        react(&w.astro, "🙏").await.data().as_array().unwrap().len(),
        2
    );
    let toggled = react(&w.user, "❤️").await;
    assert_eq!(
        toggled.data(),
        &json!([{ "participantId": w.astro.id, "emoji": "🙏" }])
    );
    react(&w.user, "")
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(
        w.history(&w.user, &id).await[0]["reactions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn forwards_copy_into_the_callers_conversations_and_replies_stay_inside_one() {
    let w = World::new().await;
    let from = w.open(&w.user, &w.astro).await;
    let to = w.open(&w.admin, &w.astro).await;
    let original = w.send(&w.user, &from, "forward me").await;
    let forward = format!("/api/messages/{}/forward", original["id"].as_str().unwrap());

    let copy = w
        .app
        .post(
            &forward,
            Some(&w.astro.access),
            json!({ "conversationId": to }),
        )
        .await;
    assert_eq!(copy.data()["forwardedFrom"], original["id"]);
    assert_eq!(copy.data()["content"], json!("forward me"));
    assert_eq!(copy.data()["conversationId"], json!(to));
    w.app
        .post(
            &forward,
            Some(&w.user.access),
            json!({ "conversationId": to }),
        )
        .await
        .assert_error(404, "not_found");

    let path = format!("/api/conversations/{to}/messages");
    w.app
        .post(
            &path,
            Some(&w.astro.access),
            json!({ "content": "re", "replyTo": original["id"] }),
        )
        .await
        .assert_error(422, "validation_failed");
    let reply = w
        .app
        .post(
            &format!("/api/conversations/{from}/messages"),
            Some(&w.astro.access),
            json!({ "content": "re", "replyTo": original["id"] }),
        )
        .await;
    assert_eq!(reply.data()["replyTo"], original["id"]);
}

#[tokio::test]
async fn a_conversation_deleted_for_me_returns_with_the_next_message_without_its_past() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    w.send(&w.astro, &id, "old").await;
    w.call(
        &w.user,
        Method::DELETE,
        &format!("/api/conversations/{id}"),
        None,
    )
    .await
    .data();
    let list = || async {
        w.app.get("/api/conversations", &w.user.access).await.data()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(list().await, 0);

    w.send(&w.astro, &id, "new").await;
    assert_eq!(list().await, 1);
    let history = w.history(&w.user, &id).await;
    assert_eq!(
        history
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["new"]
    );
    assert_eq!(w.conversation(&w.user, &id).await["unreadCount"], json!(1));
    assert_eq!(w.history(&w.astro, &id).await.len(), 2);
}

#[tokio::test]
async fn groups_have_owners_admins_and_members() {
    let w = World::new().await;
    let body = json!({ "type": "group", "title": "Full moon circle", "memberIds": [w.astro.id, w.user.id] });
    w.app
        .post("/api/conversations", Some(&w.user.access), body.clone())
        .await
        .assert_error(403, "forbidden");
    let group = w
        .app
        .post("/api/conversations", Some(&w.admin.access), body)
        .await;
    let id = group.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(group.data()["role"], json!("owner"));
    assert_eq!(group.data()["members"].as_array().unwrap().len(), 3);
    w.send(&w.user, &id, "hello circle").await;

    let members = format!("/api/conversations/{id}/members");
    w.app
        .post(
            &members,
            Some(&w.user.access),
            json!({ "memberIds": [w.stranger.id] }),
        )
        .await
        .assert_error(403, "forbidden");
    w.app
        .post(
            &members,
            Some(&w.admin.access),
            json!({ "memberIds": [w.stranger.id] }),
        )
        .await
        .data();
    w.call(
        &w.admin,
        Method::PATCH,
        &format!("{members}/{}", w.astro.id),
        Some(json!({ "role": "admin" })),
    )
    .await
    .data();
    // The new group admin removes a member but not the owner.
    w.call(
        &w.astro,
        Method::DELETE,
        &format!("{members}/{}", w.stranger.id),
        None,
    )
    .await
    .data();
    w.call(
        &w.astro,
        Method::DELETE,
        &format!("{members}/{}", w.admin.id),
        None,
    )
    .await
    .assert_error(403, "forbidden");
    w.app
        .patch(
            &format!("/api/conversations/{id}"),
            &w.astro.access,
            json!({ "title": "New moon" }),
        )
        .await
        .data();
    // Anyone leaves; the owner leaving hands the group on.
    w.call(
        &w.user,
        Method::DELETE,
        &format!("{members}/{}", w.user.id),
        None,
    )
    .await
    .data();
    w.app
        .post(
            &format!("/api/conversations/{id}/messages"),
            Some(&w.user.access),
            json!({ "content": "still here?" }),
        )
        .await
        .assert_error(404, "not_found");
    w.call(
        &w.admin,
        Method::DELETE,
        &format!("{members}/{}", w.admin.id),
        None,
    )
    .await
    .data();
    let view = w.conversation(&w.astro, &id).await;
    assert_eq!(view["title"], json!("New moon"));
    assert_eq!(view["role"], json!("owner"));
    assert_eq!(view["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn admins_close_and_reopen_conversations() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}");
    w.app
        .patch(&path, &w.astro.access, json!({ "isActive": false }))
        .await
        .assert_error(403, "forbidden");
    let closed = w
        .app
        .patch(&path, &w.admin.access, json!({ "isActive": false }))
        .await;
    assert_eq!(closed.data()["isActive"], json!(false));
    w.app
        .post(
            &format!("{path}/messages"),
            Some(&w.user.access),
            json!({ "content": "hello?" }),
        )
        .await
        .assert_error(409, "conversation_closed");
    let all = w
        .app
        .get(
            "/api/conversations?all=true&isActive=false",
            &w.admin.access,
        )
        .await;
    assert_eq!(all.data()["items"][0]["id"], json!(id));
    w.app
        .get("/api/conversations?all=true", &w.user.access)
        .await
        .assert_error(403, "forbidden");
    w.app
        .patch(&path, &w.admin.access, json!({ "isActive": true }))
        .await
        .data();
    w.send(&w.user, &id, "back").await;
}

#[tokio::test]
async fn the_seed_004_admin_and_astrologer_channel_is_one_conversation() {
    let w = World::new().await;
    let admin_side = format!("/api/admin/conversations/{}", w.astro.id);
    let opened = w.app.get(&admin_side, &w.admin.access).await;
    let id = opened.data()["conversation"]["id"].clone();
    assert_eq!(
        opened.data()["conversation"]["type"],
        json!("admin_astrologer")
    );
    w.app
        .post(
            &format!("{admin_side}/messages"),
            Some(&w.admin.access),
            json!({ "content": "please call me" }),
        )
        .await
        .data();

    let astro_side = w.app.get("/api/conversations/admin", &w.astro.access).await;
    assert_eq!(astro_side.data()["conversation"]["id"], id);
    assert_eq!(astro_side.data()["conversation"]["unreadCount"], json!(1));
    assert_eq!(
        astro_side.data()["messages"]["items"][0]["senderType"],
        json!("admin")
    );
    w.app
        .post(
            "/api/conversations/admin/messages",
            Some(&w.astro.access),
            json!({ "text": "calling" }),
        )
        .await
        .data();
    let seen = w
        .app
        .get(&format!("{admin_side}/messages"), &w.admin.access)
        .await;
    assert_eq!(seen.data()["items"][0]["text"], json!("calling"));

    w.app
        .get(&admin_side, &w.user.access)
        .await
        .assert_error(403, "forbidden");
    w.app
        .get("/api/conversations/admin", &w.user.access)
        .await
        .assert_error(403, "forbidden");
    w.app
        .get(
            &format!("/api/admin/conversations/{}", w.user.id),
            &w.admin.access,
        )
        .await
        .assert_error(404, "not_found");
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
    w.app
        .patch(
            "/api/settings",
            &w.admin.access,
            json!({ "maxMessageChars": 10 }),
        )
        .await
        .data();
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
    w.app
        .patch(
            "/api/settings",
            &w.admin.access,
            json!({ "messagesPerParticipant": { "max": 3, "perSeconds": 60 } }),
        )
        .await
        .data();
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

#[tokio::test]
async fn the_list_orders_by_activity_and_shows_last_messages_and_members() {
    let w = World::new().await;
    let with_astro = w.open(&w.user, &w.astro).await;
    w.send(&w.user, &with_astro, "first").await;
    let other_astro = w
        .app
        .participant_login(&w.tenant, ParticipantType::Astrologer, "Bela")
        .await;
    let body = json!({ "userId": w.user.id, "astrologerId": other_astro.id });
    w.app
        .post("/api/consultations", Some(&w.admin.access), body)
        .await
        .data();
    let with_other = w.open(&w.user, &other_astro).await;
    w.send(&other_astro, &with_other, "newer").await;

    let page = w
        .app
        .get("/api/conversations?limit=1", &w.user.access)
        .await;
    assert_eq!(page.data()["items"][0]["id"], json!(with_other));
    assert_eq!(
        page.data()["items"][0]["lastMessage"]["content"],
        json!("newer")
    );
    let names: Vec<&str> = page.data()["items"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Bela") && names.contains(&"Uma"),
        "{names:?}"
    );
    let cursor = page.data()["nextCursor"].as_str().unwrap();
    let next = w
        .app
        .get(
            &format!("/api/conversations?limit=1&cursor={cursor}"),
            &w.user.access,
        )
        .await;
    assert_eq!(next.data()["items"][0]["id"], json!(with_astro));
    assert!(next.data()["nextCursor"].is_null());
    let filtered = w
        .app
        .get(
            &format!("/api/conversations?with={}", other_astro.id),
            &w.user.access,
        )
        .await;
    assert_eq!(filtered.data()["items"].as_array().unwrap().len(), 1);
}
