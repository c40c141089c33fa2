//! Calls over Socket.IO, inbound: seed 004's `call:*` events and
//! Backend1's WebRTC signalling (`call:invite`, `call:answer`,
//! `call:candidate`, `call:hangup`), each on the same core call as its REST
//! twin. What call events become on the wire is `outbound::calls`.
//!
//! Failures answer through the ack, or as `call:error` without one.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, Handler, parse};
use crate::{
    domain::{
        CallId,
        call::{Signal, SignalKind, Transport},
    },
    error::{AppError, AppResult},
    wire::{
        call::{CallJoinView, CallView, JoinView, PlaceCall},
        to_value,
    },
};

/// Registers the call events on a new socket.
pub(super) fn route(event: &str) -> Option<(&'static str, Handler)> {
    let handler: Handler = match event {
        "call:initiate" => |ctx, data| Box::pin(initiate(ctx, data, Transport::Agora)),
        "call:accept" => |ctx, data| Box::pin(accept(ctx, data)),
        "call:reject" => |ctx, data| Box::pin(act(ctx, data, Act::Reject)),
        "call:end" | "call:hangup" => |ctx, data| Box::pin(act(ctx, data, Act::HangUp)),
        "call:connected" => |ctx, data| Box::pin(act(ctx, data, Act::Connected)),
        "call:token" => |ctx, data| Box::pin(token(ctx, data)),
        // Backend1's WebRTC calls.
        "call:invite" => |ctx, data| Box::pin(invite(ctx, data)),
        "call:answer" => |ctx, data| Box::pin(answer(ctx, data)),
        "call:candidate" => |ctx, data| Box::pin(relay(ctx, data, SignalKind::Candidate)),
        _ => return None,
    };
    Some((EVENTS.iter().find(|e| **e == event)?, handler))
}

/// The call events [`route`] answers to.
const EVENTS: [&str; 10] = [
    "call:initiate",
    "call:accept",
    "call:reject",
    "call:end",
    "call:hangup",
    "call:connected",
    "call:token",
    "call:invite",
    "call:answer",
    "call:candidate",
];

/// Names a call.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Which {
    call_id: Option<uuid::Uuid>,
    id: Option<uuid::Uuid>,
}

impl Which {
    fn of(data: &Value) -> AppResult<CallId> {
        let which: Which = parse(data.clone())?;
        which
            .call_id
            .or(which.id)
            .map(CallId)
            .ok_or_else(|| AppError::validation("give callId"))
    }
}

async fn initiate(ctx: Ctx, data: Value, transport: Transport) -> AppResult<Value> {
    ctx.authorize("calls", "write").await?;
    let new = parse::<PlaceCall>(data)?.into_new(transport)?;
    let (call, join) = ctx.state.core.initiate_call(&ctx.conn.actor, new).await?;
    Ok(to_value(&CallJoinView::of(&call, &join)))
}

async fn accept(ctx: Ctx, data: Value) -> AppResult<Value> {
    ctx.authorize("calls", "write").await?;
    let id = Which::of(&data)?;
    let (call, join) = ctx.state.core.accept_call(&ctx.conn.actor, id).await?;
    Ok(to_value(&CallJoinView::of(&call, &join)))
}

async fn token(ctx: Ctx, data: Value) -> AppResult<Value> {
    ctx.authorize("calls", "write").await?;
    let id = Which::of(&data)?;
    let join = ctx.state.core.call_token(&ctx.conn.actor, id).await?;
    Ok(to_value(&JoinView::from(&join)))
}

#[derive(Clone, Copy)]
enum Act {
    Reject,
    HangUp,
    Connected,
}

async fn act(ctx: Ctx, data: Value, act: Act) -> AppResult<Value> {
    ctx.authorize("calls", "write").await?;
    let id = Which::of(&data)?;
    let core = &ctx.state.core;
    let actor = &ctx.conn.actor;
    let call = match act {
        Act::Reject => core.reject_call(actor, id).await?,
        Act::HangUp => core.hang_up(actor, id).await?,
        Act::Connected => core.call_connected(actor, id).await?,
    };
    Ok(to_value(&CallView::from(&call)))
}

/// The signalling part of a payload: everything but the routing fields.
fn signal_of(data: &Value, kind: SignalKind) -> Signal {
    let mut payload = data.clone();
    if let Some(object) = payload.as_object_mut() {
        for routing in [
            "callId",
            "id",
            "calleeId",
            "to",
            "astrologerId",
            "callType",
            "type",
            "conversationId",
            "consultationId",
        ] {
            object.remove(routing);
        }
    }
    Signal { kind, payload }
}

/// `call:invite`: places a WebRTC call and relays the offer to the callee.
async fn invite(ctx: Ctx, data: Value) -> AppResult<Value> {
    let signal = signal_of(&data, SignalKind::Offer);
    let placed = initiate(ctx.clone(), data, Transport::Webrtc).await?;
    let id = placed["callId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .map(CallId)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a placed call has an id")))?;
    ctx.state
        .core
        .relay_signal(&ctx.conn.actor, id, signal)
        .await?;
    Ok(placed)
}

/// `call:answer`: the callee accepts and its answer goes to the caller.
async fn answer(ctx: Ctx, data: Value) -> AppResult<Value> {
    let id = Which::of(&data)?;
    let answered = accept(ctx.clone(), data.clone()).await?;
    ctx.state
        .core
        .relay_signal(&ctx.conn.actor, id, signal_of(&data, SignalKind::Answer))
        .await?;
    Ok(answered)
}

async fn relay(ctx: Ctx, data: Value, kind: SignalKind) -> AppResult<Value> {
    ctx.authorize("calls", "write").await?;
    let id = Which::of(&data)?;
    ctx.state
        .core
        .relay_signal(&ctx.conn.actor, id, signal_of(&data, kind))
        .await?;
    Ok(json!({ "callId": id.0 }))
}
