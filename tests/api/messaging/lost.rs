//! A writer's statement or connection cut off in the middle of a batch
//! (`KILL QUERY`, `KILL CONNECTION`: a DBA, a restart, a network fault):
//! the batch's send is refused as unavailable (503, to be sent again),
//! never acknowledged, nothing of the batch stays, and the writer goes on,
//! where the client's resend is stored once.

use std::time::Duration;

use serde_json::json;

use super::{WRITER_AT_THE_ROW, hold_the_row, seqs, wait_for_the_writer_at_the_row};
use crate::world::World;

#[tokio::test]
async fn a_writer_whose_connection_is_killed_mid_batch_stores_nothing_of_it_and_goes_on() {
    cut_off("KILL CONNECTION").await;
}

#[tokio::test]
async fn a_writer_whose_statement_is_killed_mid_batch_stores_nothing_of_it_and_goes_on() {
    cut_off("KILL QUERY").await;
}

/// Runs `kill` (a `KILL` statement without its id) on the writer while it
/// waits inside a batch, then resends until stored.
async fn cut_off(kill: &str) {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let body = json!({ "content": "first", "clientMsgId": "phone:1" });

    // The writer waits at the conversation's row, inside its transaction,
    // and is cut off there.
    let holder = hold_the_row(&w.app, &id).await;
    let send = w.app.post(&path, Some(&w.user.access), body.clone());
    let cut_off = async {
        wait_for_the_writer_at_the_row(&w.app).await;
        let writer: i64 = sqlx::query_scalar(
            "SELECT ID FROM information_schema.PROCESSLIST
             WHERE DB = DATABASE() AND INFO LIKE CONCAT(?, '%')",
        )
        .bind(WRITER_AT_THE_ROW)
        .fetch_one(&w.app.pool)
        .await
        .unwrap();
        sqlx::query(&format!("{kill} {writer}"))
            .execute(&w.app.pool)
            .await
            .unwrap();
        holder.rollback().await.unwrap();
    };
    let (refused, ()) = tokio::join!(send, cut_off);
    refused.assert_error(503, "unavailable");

    // The client sends again with the same clientMsgId until it is stored.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stored = loop {
        let answer = w.app.post(&path, Some(&w.user.access), body.clone()).await;
        if answer.status.is_success() {
            break answer;
        }
        answer.assert_error(503, "unavailable");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writer never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        stored.data()["seq"],
        json!(1),
        "nothing of the cut-off batch stayed"
    );
    let next = w.send(&w.astro, &id, "second").await;
    assert_eq!(next["seq"], json!(2));
    assert_eq!(seqs(&w.history(&w.user, &id).await), vec![1, 2]);
}
