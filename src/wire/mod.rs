//! The wire layer: the JSON shapes both front doors send and accept, and
//! the one mapping of the seeds' alternative field names. REST sends these
//! as poem-openapi `Object`s (so they are the spec's schemas); Socket.IO
//! sends the very same shapes as JSON values ([`to_value`]), so a message,
//! a call or a presence looks the same whichever door it came through.
//!
//! The seeds' spellings live here, once: `from`/`to` vs `sender`, `text` vs
//! `content`, `conversation` vs `conversationId`, `avatar` vs `avatarUrl`,
//! `id`/`uid`/`userId`, `type` vs `messageType` or `callType`.
//!
//! - [`participant`]: a participant's profile and presence.
//! - [`conversation`]: a conversation, its members, its newest message.
//! - [`file`]: files (uploads, what media messages carry) with signed links.
//! - [`notification`]: the inbox's entries and the unread count.
//! - [`message`]: messages and pages of them (`MessageRenderer`).
//! - [`send`]: the send payload, decoded once for REST and Socket.IO.
//! - [`call`]: calls, a party's join, placing a call.
//! - [`chat_request`]: chat requests.
//! - [`consultation`]: consultations, as REST and webhooks show them.
//! - [`webhook`]: the `data` of webhook events (the same views).
//!
//! No handler logic and no core calls: shapes and their mapping only.

pub mod call;
pub mod chat_request;
pub mod consultation;
pub mod conversation;
pub mod file;
pub mod message;
pub mod notification;
pub mod participant;
pub mod send;
pub mod webhook;

use poem_openapi::types::ToJSON;
use serde_json::Value;

/// A view as JSON, for the socket (REST serializes the same view itself).
pub fn to_value<T: ToJSON>(view: &T) -> Value {
    view.to_json().unwrap_or(Value::Null)
}

/// Views as JSON values.
pub fn to_values<T: ToJSON>(views: Vec<T>) -> Vec<Value> {
    views.iter().map(to_value).collect()
}
