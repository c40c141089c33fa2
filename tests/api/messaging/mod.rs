//! Conversations and messages. `sending`: gap-free seqs under concurrency,
//! idempotent sends, paging, validation, rate limits and the seeds' spellings.
//! `reading`: unread counts, receipts, search. `changes`: edits, deletions,
//! reactions, forwards and replies. `conversations`: opening, hiding, groups,
//! closing, the admin channel and the list.

mod capacity;
mod changes;
mod conversations;
mod reading;
mod sending;

use serde_json::Value;

fn seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}
