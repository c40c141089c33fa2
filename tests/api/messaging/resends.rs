//! Resends (`clientMsgId`). The writer does not look a batch's client ids
//! up before its insert: the insert's unique key finds a resend, and the
//! batch is written again, looking them up; a send refused by a check is
//! looked up too. So a resend gets its first message back whatever else is
//! in its batch, and however a new send would fare now.

use reqwest::Method;
use serde_json::json;

use super::{batching::in_one_batch, seqs};
use crate::world::World;

#[tokio::test]
async fn a_resend_among_new_sends_gets_its_first_message_and_they_their_seqs() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let first = w
        .app
        .post(
            &path,
            Some(&w.user.access),
            json!({ "content": "first", "clientMsgId": "phone:1" }),
        )
        .await;
    let first = first.data();
    let sends = vec![
        w.app.post(
            &path,
            Some(&w.user.access),
            json!({ "content": "new", "clientMsgId": "phone:2" }),
        ),
        w.app.post(
            &path,
            Some(&w.user.access),
            json!({ "content": "first (again)", "clientMsgId": "phone:1" }),
        ),
        // Another sender's own "phone:1" is a message of its own.
        w.app.post(
            &path,
            Some(&w.astro.access),
            json!({ "content": "theirs", "clientMsgId": "phone:1" }),
        ),
    ];
    let (ahead, answers) = in_one_batch(&w, &id, sends).await;

    assert_eq!(ahead.data()["seq"], json!(2));
    let resent = answers[1].data();
    assert_eq!(
        resent["id"], first["id"],
        "the resend gets the first message"
    );
    assert_eq!(resent["seq"], json!(1));
    assert_eq!(resent["content"], json!("first"));
    assert_eq!(answers[0].data()["seq"], json!(3));
    assert_eq!(answers[2].data()["seq"], json!(4));
    let stored = w.history(&w.user, &id).await;
    assert_eq!(seqs(&stored), vec![1, 2, 3, 4], "stored once each, no gap");
}

#[tokio::test]
async fn a_resend_gets_its_first_message_where_a_new_send_is_now_refused() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let body = json!({ "content": "before", "clientMsgId": "phone:9" });
    let first = w.app.post(&path, Some(&w.user.access), body.clone()).await;
    let first = first.data();
    w.block(&w.astro, &w.user).await;

    let again = w.app.post(&path, Some(&w.user.access), body.clone()).await;
    assert_eq!(again.data()["id"], first["id"], "blocked since, yet acked");
    w.app
        .post(
            &path,
            Some(&w.user.access),
            json!({ "content": "after", "clientMsgId": "phone:10" }),
        )
        .await
        .assert_error(403, "blocked");

    w.call(
        &w.astro,
        Method::DELETE,
        &format!("/api/blocks/{}", w.user.id),
        None,
    )
    .await
    .data();
    w.app
        .patch(
            &format!("/api/conversations/{id}"),
            &w.admin.access,
            json!({ "isActive": false }),
        )
        .await
        .data();
    let again = w.app.post(&path, Some(&w.user.access), body).await;
    assert_eq!(again.data()["id"], first["id"], "closed since, yet acked");
    assert_eq!(w.history(&w.astro, &id).await.len(), 1);
}
