//! Changing sent messages: edits within the window, deletion for everyone
//! or for me, reactions, forwards and replies.

use reqwest::Method;
use serde_json::{Value, json};

use super::seqs;
use crate::world::World;

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

    w.settings(json!({ "messageEditWindowSeconds": 0 })).await;
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
async fn each_participant_has_one_reaction_that_toggles() {
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
