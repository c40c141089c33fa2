//! What clients send over Socket.IO, in every dialect the seeds use, each
//! mapped onto the same core call as its REST twin.
//!
//! Every handler answers through the ack when the client asks for one:
//! `{"success":true,"data":...}` or the REST failure envelope. Without an
//! ack, a failure is emitted as `dm:error` (`{event, code, message, ...}`).
//! Nothing a client sends can take the connection down.

mod calls;

use std::{convert::Infallible, sync::Arc};

use futures_util::future::BoxFuture;

use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use socketioxide::{
    extract::{AckSender, Event, State, TryData},
    handler::{FromMessageParts, Value as Packet},
    socket::Socket,
};

use super::{Io, SocketRef, fanout::Fanout, outbound, rooms, session::Conn};
use crate::cluster::Adapter;
use crate::{
    domain::{MessageId, ParticipantId, message::Paging},
    error::{AppError, AppResult},
    state::AppState,
    wire::{
        message::MessagesDto,
        participant::PresenceView,
        send::{ConversationRef, Destination, PostMessageRequest},
        to_value,
    },
};

/// The ack of the event being handled, and whether the client asked for one.
pub struct Ack {
    sender: AckSender<Adapter>,
    pub(super) wanted: bool,
}

impl FromMessageParts<Adapter> for Ack {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<Adapter>>,
        v: &mut Packet,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self {
            sender: AckSender::from_message_parts(s, v, ack_id)?,
            wanted: ack_id.is_some(),
        })
    }
}

impl Ack {
    pub(super) fn answer(self, s: &SocketRef, event: &'static str, result: AppResult<Value>) {
        // Seed 004's call handlers report failures as `call:error`.
        let error_event = if event.starts_with("call:") {
            "call:error"
        } else {
            "dm:error"
        };
        let sent = match (result, self.wanted) {
            (Ok(data), true) => self.sender.send(&json!({ "success": true, "data": data })),
            (Ok(_), false) => Ok(()),
            (Err(err), true) => self.sender.send(&err.envelope()),
            (Err(err), false) => {
                let mut body = err.envelope();
                body["event"] = json!(event);
                body["code"] = body["error"]["code"].clone();
                s.emit(error_event, &body)
            }
        };
        if let Err(err) = sent {
            tracing::debug!(error = %err, event, "answering a socket event failed");
        }
    }
}

/// What a handler works with.
#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) socket: SocketRef,
    pub(super) io: Io,
    pub(super) state: AppState,
    pub(super) conn: Conn,
    pub(super) fanout: Fanout,
}

impl Ctx {
    pub(super) async fn authorize(&self, object: &str, action: &str) -> AppResult<()> {
        self.state
            .auth
            .authorize(&self.conn.actor, object, action)
            .await
    }
}

/// A client event's handler: the payload (JSON) and the connection's
/// identity in, the answer out.
pub(super) type Handler = fn(Ctx, Value) -> BoxFuture<'static, AppResult<Value>>;

/// Every client event goes through this one handler, which finds the
/// event's own in [`route`]. One handler per socket rather than one per
/// event name (there are 25 with the aliases): each socket keeps less.
async fn dispatch(
    s: SocketRef,
    io: Io,
    Event(event): Event,
    TryData(data): TryData<Value>,
    ack: Ack,
    State(state): State<AppState>,
    State(fanout): State<Fanout>,
) {
    let routed = route(&event);
    let name = routed.as_ref().map_or("unknown", |(name, _)| *name);
    metrics::counter!("samvad_socket_events_total", "event" => name).increment(1);
    let Some((event, handler)) = routed else {
        // Unknown events are answered only when the client waits for an answer.
        if ack.wanted {
            ack.answer(&s, "unknown", Err(AppError::bad_request("unknown event")));
        }
        return;
    };
    let Some(conn) = s.extensions.get::<Conn>() else {
        return;
    };
    let result = match data {
        Ok(data) => {
            let ctx = Ctx {
                socket: s.clone(),
                io,
                state,
                conn,
                fanout,
            };
            handler(ctx, data).await
        }
        Err(_) => Err(AppError::validation("the payload must be one JSON object")),
    };
    ack.answer(&s, event, result);
}

/// Reads a payload into `T`; a wrong shape is a validation error naming it.
pub(super) fn parse<T: DeserializeOwned>(data: Value) -> AppResult<T> {
    if !data.is_object() {
        return Err(AppError::validation("the payload must be a JSON object"));
    }
    serde_json::from_value(data).map_err(|err| AppError::validation(format!("bad payload: {err}")))
}

/// The send events: one decoder with `POST /api/messages`
/// ([`PostMessageRequest`]), parsed from the socket's JSON.
async fn send(ctx: Ctx, data: Value) -> AppResult<Value> {
    ctx.authorize("conversations", "write").await?;
    let (to, what) = parse::<PostMessageRequest>(data)?.split()?;
    let core = &ctx.state.core;
    let actor = &ctx.conn.actor;
    let id = match to {
        Destination::Conversation(id) => id,
        Destination::Direct(other) => core.direct_with(actor, other).await?,
    };
    let message = core.send_message(actor, id, what.into_input()?).await?;
    Ok(outbound::message_payload(
        &message,
        actor.participant_type(),
    ))
}

async fn join(ctx: Ctx, data: Value) -> AppResult<Value> {
    ctx.authorize("conversations", "read").await?;
    let id = parse::<ConversationRef>(data)?.id()?;
    ctx.state.core.membership(&ctx.conn.actor, id).await?;
    ctx.socket.join(rooms::conversation(id));
    let joined = json!({ "conversationId": id.0 });
    if let Err(err) = ctx.socket.emit("dm:joined", &joined) {
        tracing::debug!(error = %err, "emitting dm:joined failed");
    }
    Ok(joined)
}

async fn leave(ctx: Ctx, data: Value) -> AppResult<Value> {
    let id = parse::<ConversationRef>(data)?.id()?;
    ctx.socket.leave(rooms::conversation(id));
    Ok(json!({ "conversationId": id.0 }))
}

/// Typing is not stored: it goes to the conversation's room, which only
/// members' sockets are in, through the fan-out's per-socket send.
async fn typing(ctx: Ctx, data: Value, started: bool) -> AppResult<Value> {
    let id = parse::<ConversationRef>(data)?.id()?;
    let room = rooms::conversation(id);
    if !ctx.socket.rooms().iter().any(|r| *r == room) {
        return Err(AppError::NotFound("conversation"));
    }
    let (_, me) = ctx.conn.actor.participant()?;
    ctx.fanout.send(&ctx.io, outbound::typing(id, me, started));
    Ok(json!({ "conversationId": id.0 }))
}

/// Receipts: `seq` for a cursor, or (seed 004) `messageIds` for read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    #[serde(flatten)]
    place: ConversationRef,
    seq: Option<u64>,
    message_ids: Option<Vec<uuid::Uuid>>,
}

#[derive(Debug, Clone, Copy)]
enum Cursor {
    Delivered,
    Read,
}

async fn receipt(ctx: Ctx, data: Value, cursor: Cursor) -> AppResult<Value> {
    ctx.authorize("conversations", "write").await?;
    let body: Receipt = parse(data)?;
    let id = body.place.id()?;
    let core = &ctx.state.core;
    let actor = &ctx.conn.actor;
    let member = match (cursor, body.seq, body.message_ids) {
        (Cursor::Read, Some(seq), _) => core.mark(actor, id, seq, seq).await?,
        (Cursor::Read, None, Some(ids)) => {
            let ids: Vec<MessageId> = ids.into_iter().map(MessageId).collect();
            core.mark_read_ids(actor, id, &ids).await?
        }
        (Cursor::Delivered, Some(seq), _) => core.mark(actor, id, seq, 0).await?,
        _ => {
            return Err(AppError::validation(
                "give seq (or, to mark read, messageIds)",
            ));
        }
    };
    Ok(json!({
        "conversationId": id.0,
        "deliveredSeq": member.delivered_seq,
        "readSeq": member.read_seq,
    }))
}

/// Resync: everything after `afterSeq`, oldest first.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resync {
    #[serde(flatten)]
    place: ConversationRef,
    after_seq: Option<u64>,
    after: Option<u64>,
    limit: Option<u32>,
}

async fn sync(ctx: Ctx, data: Value) -> AppResult<Value> {
    ctx.authorize("conversations", "read").await?;
    let body: Resync = parse(data)?;
    let id = body.place.id()?;
    let paging = Paging {
        before: None,
        after: Some(body.after_seq.or(body.after).unwrap_or(0)),
        limit: body.limit.unwrap_or(100),
    };
    let page = ctx.state.core.messages(&ctx.conn.actor, id, paging).await?;
    let me = ctx.conn.actor.participant().ok().map(|(_, me)| me);
    Ok(to_value(&MessagesDto::from_page(page, me)))
}

/// Presence of some participants (`ids` or `userIds`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Who {
    ids: Option<Vec<uuid::Uuid>>,
    user_ids: Option<Vec<uuid::Uuid>>,
}

async fn presence(ctx: Ctx, data: Value) -> AppResult<Value> {
    ctx.authorize("directory", "read").await?;
    let body: Who = parse(data)?;
    let ids: Vec<ParticipantId> = body
        .ids
        .or(body.user_ids)
        .unwrap_or_default()
        .into_iter()
        .take(100)
        .map(ParticipantId)
        .collect();
    let found = ctx.state.core.presence(&ctx.conn.actor, &ids).await?;
    Ok(Value::Array(
        found
            .iter()
            .map(|p| to_value(&PresenceView::from(p)))
            .collect(),
    ))
}

/// Registers the client events on a new socket.
pub fn register(s: &SocketRef) {
    s.on_fallback(dispatch);
}

/// The handler of a client event, with the event's name.
fn route(event: &str) -> Option<(&'static str, Handler)> {
    let handler: Handler = match event {
        "dm:send_message" | "send-message" | "message" => |ctx, data| Box::pin(send(ctx, data)),
        "dm:join_conversation" => |ctx, data| Box::pin(join(ctx, data)),
        "dm:leave_conversation" => |ctx, data| Box::pin(leave(ctx, data)),
        "dm:typing_start" | "typing" => |ctx, data| Box::pin(typing(ctx, data, true)),
        "dm:typing_stop" | "typing-stopped" => |ctx, data| Box::pin(typing(ctx, data, false)),
        "dm:mark_read" | "read_up_to" => |ctx, data| Box::pin(receipt(ctx, data, Cursor::Read)),
        "delivered" => |ctx, data| Box::pin(receipt(ctx, data, Cursor::Delivered)),
        "sync" => |ctx, data| Box::pin(sync(ctx, data)),
        "presence" => |ctx, data| Box::pin(presence(ctx, data)),
        _ => return calls::route(event),
    };
    Some((EVENTS.iter().find(|e| **e == event)?, handler))
}

/// The names [`route`] answers to, besides the calls' (for the answer's
/// `event`, which must be `'static`).
const EVENTS: [&str; 14] = [
    "dm:send_message",
    "send-message",
    "message",
    "dm:join_conversation",
    "dm:leave_conversation",
    "dm:typing_start",
    "typing",
    "dm:typing_stop",
    "typing-stopped",
    "dm:mark_read",
    "read_up_to",
    "delivered",
    "sync",
    "presence",
];
