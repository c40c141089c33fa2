//! Conversations and messages. `sending`: gap-free seqs under concurrency,
//! idempotent sends, paging, validation, rate limits and the seeds' spellings.
//! `reading`: unread counts, receipts, search. `changes`: edits, deletions,
//! reactions, forwards and replies. `conversations`: opening, hiding, groups,
//! closing, the admin channel and the list.

mod batching;
mod capacity;
mod changes;
mod conversations;
mod lost;
mod reading;
mod resends;
mod sending;

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{TestApp, wait_for_statement};

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

/// Locks a conversation's row from another connection: the writer's next
/// batch that touches it waits until the returned transaction ends, and
/// the sends that arrive meanwhile queue for the batch after it.
async fn hold_the_row(
    app: &TestApp,
    conversation: &str,
) -> sqlx::Transaction<'static, sqlx::MySql> {
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM conversations WHERE id = UNHEX(REPLACE(?, '-', '')) FOR UPDATE")
        .bind(conversation)
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    holder
}

/// The writer's statement that locks the conversations' rows (in either
/// of its forms, `writer/scope.rs`), as a `LIKE` prefix of the process
/// list's `INFO`.
const WRITER_AT_THE_ROW: &str =
    "%SELECT STRAIGHT_JOIN c.tenant_id, c.id, c.type, c.is_active, c.last_seq";

/// Waits until the writer is inside a batch's transaction, at the
/// statement that locks the conversations' rows.
async fn wait_for_the_writer_at_the_row(app: &TestApp) {
    wait_for_statement(
        &app.pool,
        WRITER_AT_THE_ROW,
        "the writer never reached the row",
    )
    .await;
}

/// Waits until `count` sends are queued for the writer's next batch.
async fn wait_for_queued_sends(app: &TestApp, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.core.sends_queued() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} sends queued",
            app.core.sends_queued()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
