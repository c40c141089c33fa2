//! Past capacity: at most `SAMVAD_SEND_QUEUE` sends are in progress; the
//! next is refused at once as `overloaded` (503 with `Retry-After`) rather
//! than queued until the pool times out, and nothing refused is stored.

use std::time::Duration;

use serde_json::json;

use super::{hold_the_row, wait_for_the_writer_at_the_row};
use crate::{helpers::TestApp, world::World};

#[tokio::test]
async fn a_send_past_the_queue_is_refused_at_once_and_the_admitted_one_is_stored() {
    let app = TestApp::spawn_with(|c| c.send_queue = 1).await;
    let w = World::in_app(app, "acme").await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");

    // Another connection holds the conversation's row: a send that gets in
    // waits for it, holding the only slot.
    let holder = hold_the_row(&w.app, &id).await;
    let admitted = w
        .app
        .post(&path, Some(&w.user.access), json!({ "content": "first" }));
    let meanwhile = async {
        wait_for_the_writer_at_the_row(&w.app).await;
        let started = std::time::Instant::now();
        let refused = w
            .app
            .post(&path, Some(&w.astro.access), json!({ "content": "second" }))
            .await;
        let waited = started.elapsed();
        holder.rollback().await.unwrap();
        (refused, waited)
    };
    let (first, (refused, waited)) = tokio::join!(admitted, meanwhile);

    refused.assert_error(503, "overloaded");
    assert_eq!(refused.headers["retry-after"], "1");
    assert!(
        waited < Duration::from_secs(2),
        "refused at once, not after a wait: {waited:?}"
    );
    assert_eq!(first.data()["seq"], json!(1));
    // The slot is free again; the refused message was never stored.
    let third = w.send(&w.astro, &id, "third").await;
    assert_eq!(third["seq"], json!(2));
    let history = w.history(&w.user, &id).await;
    let texts: Vec<&str> = history
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(!texts.contains(&"second"), "{texts:?}");
}
