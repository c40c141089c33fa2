//! The fan-out: reads every domain event from the bus's lossless feed, in
//! order, looks up what its plan needs (through the core's use cases; a
//! message's events carry all it needs) and carries the plan out. Socket
//! handlers never emit what the core did; this task does, so a message sent
//! over REST and one sent over Socket.IO produce the same events.

use std::sync::Arc;

use socketioxide::{SendError, SocketError};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    Io,
    outbound::{self, Action, Emit, Lookups, Needs},
    rooms::{self, Dialect},
    session::Conn,
};
use crate::{
    domain::{TenantId, events::DomainEvent, participant},
    error::AppError,
    state::AppState,
};

/// Runs until the feed ends (the bus is dropped) or the task is aborted.
pub async fn run(io: Io, state: AppState, mut feed: UnboundedReceiver<Arc<DomainEvent>>) {
    let lanes = state
        .config
        .redis_url
        .is_some()
        .then(|| Lanes::start(&io, &state));
    while let Some(event) = feed.recv().await {
        match outbound::needs(&event) {
            // Messages keep their order: planned and sent inline.
            Needs::Nothing | Needs::Caller => {
                let found = lookups(&state, &event).await;
                carry_out(&io, &state, lanes.as_ref(), outbound::plan(&event, &found)).await;
            }
            // Presence and profiles need a query; they do not hold up messages.
            Needs::Audience | Needs::AudienceAndProfile => {
                let (io, state, lanes) = (io.clone(), state.clone(), lanes.clone());
                tokio::spawn(async move {
                    let found = lookups(&state, &event).await;
                    let actions = outbound::plan(&event, &found);
                    carry_out(&io, &state, lanes.as_ref(), actions).await;
                });
            }
        }
    }
}

/// With several nodes, each emit is a Redis round trip: awaited one after
/// another they would cap the fan-out at a few thousand a second. Emits go
/// instead to one of [`LANES`] ordered queues, chosen by their
/// conversation, so the events of one conversation keep their order while
/// different conversations' are published side by side.
#[derive(Clone)]
struct Lanes(Arc<[tokio::sync::mpsc::UnboundedSender<Emit>]>);

/// Ordered publishing queues with several nodes.
const LANES: usize = 32;

impl Lanes {
    fn start(io: &Io, state: &AppState) -> Self {
        let lanes = (0..LANES)
            .map(|_| {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Emit>();
                let (io, state) = (io.clone(), state.clone());
                tokio::spawn(async move {
                    while let Some(emit) = rx.recv().await {
                        send(&io, &state, emit).await;
                    }
                });
                tx
            })
            .collect();
        Self(lanes)
    }

    /// Queues `emit` on its conversation's lane (events that name no
    /// conversation: on their recipients', in any order given).
    fn push(&self, emit: Emit) {
        use std::hash::{Hash, Hasher};
        let mut hash = std::collections::hash_map::DefaultHasher::new();
        match emit.data.get("conversationId").and_then(|c| c.as_str()) {
            Some(conversation) => conversation.hash(&mut hash),
            None => {
                let mut rooms: Vec<&String> = emit.to.iter().collect();
                rooms.sort_unstable();
                rooms.hash(&mut hash);
            }
        }
        let lane = (hash.finish() % self.0.len() as u64) as usize;
        let _ = self.0[lane].send(emit);
    }
}

async fn lookups(state: &AppState, event: &DomainEvent) -> Lookups {
    let core = &state.core;
    let mut found = Lookups::default();
    let result: crate::error::AppResult<()> = async {
        match event {
            DomainEvent::PresenceChanged {
                tenant,
                participant,
                ..
            } => {
                found.audience = core.audience_of(*tenant, *participant).await?;
            }
            DomainEvent::ParticipantUpdated {
                tenant,
                participant,
            } => {
                found.audience = core.audience_of(*tenant, *participant).await?;
                found.profile = profile(state, *tenant, *participant).await?;
            }
            DomainEvent::CallChanged { call, .. } => {
                found.profile = profile(state, call.tenant_id, call.caller_id).await?;
            }
            _ => {}
        }
        Ok(())
    }
    .await;
    if let Err(err) = result {
        tracing::warn!(error = %err, "fan-out lookup failed; sending what is known");
    }
    found
}

async fn profile(
    state: &AppState,
    tenant: TenantId,
    id: crate::domain::ParticipantId,
) -> crate::error::AppResult<Option<participant::Participant>> {
    match state.core.participant(tenant, id).await {
        Ok(found) => Ok(Some(found)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Carries the actions out in order (emits through `lanes`, with several
/// nodes).
async fn carry_out(io: &Io, state: &AppState, lanes: Option<&Lanes>, actions: Vec<Action>) {
    for action in actions {
        let done = match action {
            Action::Emit(emit) => {
                match lanes {
                    Some(lanes) => lanes.push(emit),
                    None => send(io, state, emit).await,
                }
                Ok(())
            }
            // Every node's sockets, or (Redis away) this node's.
            Action::Join { who, room } => match io.to(who.clone()).join(room.clone()).await {
                Err(_) => io.local().to(who).join(room).await,
                done => done,
            },
            Action::Leave { who, room } => match io.to(who.clone()).leave(room.clone()).await {
                Err(_) => io.local().to(who).leave(room).await,
                done => done,
            },
            Action::Disconnect { room } => {
                if io.within(room.clone()).disconnect().await.is_err()
                    && let Err(err) = io.local().within(room).disconnect().await
                {
                    tracing::debug!(error = ?err, "disconnecting sockets failed");
                }
                Ok(())
            }
            Action::DisconnectDead { room } => {
                for socket in io.within(room).sockets() {
                    let Some(conn) = socket.extensions.get::<Conn>() else {
                        continue;
                    };
                    if !state
                        .auth
                        .session_is_live(conn.session)
                        .await
                        .unwrap_or(true)
                    {
                        let _ = socket.disconnect();
                    }
                }
                Ok(())
            }
        };
        if let Err(err) = done {
            tracing::debug!(error = ?err, "changing rooms failed");
        }
    }
}

const DIALECT_ROOMS: [Dialect; 4] = [
    Dialect::All,
    Dialect::Dm,
    Dialect::Backend,
    Dialect::Backend1,
];

fn is_dialect_room(room: &str) -> bool {
    DIALECT_ROOMS.iter().any(|d| d.room() == room)
}

/// Sends one emit (the fan-out's, and typing's, which is not stored). An
/// emit with no room is dropped: to socket.io, no room means every socket.
/// An emit that leaves out some dialects goes socket by socket to the
/// sockets of its rooms (a conversation's members: a few), each checked
/// against its own dialect. Handing socket.io `except` rooms instead makes
/// it collect every socket of those rooms into a set for each emit, and
/// every socket is in a dialect room: a cost that grows with everyone
/// connected, paid for every message.
pub(crate) async fn send(io: &Io, state: &AppState, emit: Emit) {
    if emit.to.is_empty() {
        return;
    }
    if state.config.redis_url.is_some() {
        match broadcast(io, &emit).await {
            Ok(()) => return,
            // Redis away: nothing was sent; this node's sockets still get it.
            Err(socketioxide::BroadcastError::Adapter(err)) => {
                tracing::debug!(error = %err, event = emit.event, "delivering locally only");
            }
            // Published, and sent here to every socket but those that
            // failed (a full buffer, a closing socket): not sent again.
            Err(err) => {
                tracing::debug!(error = %err, event = emit.event, "some sockets missed an event");
                return;
            }
        }
    }
    let (dialects, others): (Vec<&String>, Vec<&String>) =
        emit.except.iter().partition(|room| is_dialect_room(room));
    let left_out: Vec<_> = if others.is_empty() {
        vec![]
    } else {
        let others: Vec<String> = others.into_iter().cloned().collect();
        io.to(others).sockets().into_iter().map(|s| s.id).collect()
    };
    // Serialized once, copied into each socket's packet.
    let data = match serde_json::value::to_raw_value(&emit.data) {
        Ok(data) => data,
        Err(err) => {
            tracing::error!(error = %err, event = emit.event, "an event did not serialize");
            return;
        }
    };
    for socket in io.to(emit.to.clone()).sockets() {
        let dialect_left_out = !dialects.is_empty()
            && socket
                .extensions
                .get::<Conn>()
                .is_some_and(|conn| dialects.iter().any(|room| *room == conn.dialect.room()));
        if dialect_left_out || left_out.contains(&socket.id) {
            continue;
        }
        match socket.emit(emit.event, &data) {
            Ok(()) => {}
            // The client reads slower than it is sent to: rather than let it
            // miss this event unknowingly, end the connection; the client
            // reconnects and catches up by seq.
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                tracing::warn!(
                    socket = %socket.id,
                    event = emit.event,
                    "a client fell behind its socket's buffer: disconnected to resync"
                );
                let _ = socket.disconnect();
            }
            Err(err) => tracing::debug!(error = ?err, event = emit.event, "emit failed"),
        }
    }
}

/// Sends one emit to its rooms on every node, through the adapter (several
/// nodes). An emit to participants that leaves out some dialects goes to
/// their rooms for the dialects it is in (`rooms::heard_in`); others leave
/// out the dialects' rooms, so socket.io leaves them out on each node. A
/// client too slow for its buffer misses the event there rather than being
/// disconnected, and catches up by seq when it next syncs. Fails, having
/// sent nothing, when Redis is away.
async fn broadcast(io: &Io, emit: &Emit) -> Result<(), socketioxide::BroadcastError> {
    let data = match serde_json::value::to_raw_value(&emit.data) {
        Ok(data) => data,
        Err(err) => {
            tracing::error!(error = %err, event = emit.event, "an event did not serialize");
            return Ok(());
        }
    };
    let (to, except) = cluster_rooms(emit);
    io.to(to).except(except).emit(emit.event, &data).await
}

/// The rooms an emit goes to and leaves out, with several nodes.
fn cluster_rooms(emit: &Emit) -> (Vec<String>, Vec<String>) {
    let (dialects, others): (Vec<&String>, Vec<&String>) =
        emit.except.iter().partition(|room| is_dialect_room(room));
    if dialects.is_empty() || !emit.to.iter().all(|room| room.starts_with("user:")) {
        return (emit.to.clone(), emit.except.clone());
    }
    let heard = Dialect::NAMED
        .into_iter()
        .filter(|d| !dialects.iter().any(|room| *room == d.room()));
    let to = heard
        .flat_map(|d| emit.to.iter().map(move |room| rooms::heard_in(room, d)))
        .collect();
    (to, others.into_iter().cloned().collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn emit(to: &[&str], except: Vec<String>) -> Emit {
        Emit {
            to: to.iter().map(|r| (*r).to_owned()).collect(),
            except,
            event: "e",
            data: json!({}),
        }
    }

    #[test]
    fn an_emit_to_participants_in_some_dialects_goes_to_their_rooms_for_those_dialects() {
        let (to, except) = cluster_rooms(&emit(&["user:a", "user:b"], Dialect::Dm.others()));
        assert_eq!(to, ["user:a/dialect:dm", "user:b/dialect:dm"]);
        assert!(except.is_empty());

        let mut both_backends = vec![Dialect::Dm.room().to_owned(), "user:a".to_owned()];
        let (to, except) = cluster_rooms(&emit(&["user:b"], both_backends.clone()));
        assert_eq!(to, ["user:b/dialect:backend", "user:b/dialect:backend1"]);
        assert_eq!(except, ["user:a"], "other rooms are still left out");

        // A conversation's room (typing) has no dialect rooms: as it was.
        both_backends.truncate(1);
        let typing = emit(&["conversation:c"], both_backends);
        assert_eq!(
            cluster_rooms(&typing),
            (typing.to.clone(), typing.except.clone())
        );
        let plain = emit(&["user:a"], vec![]);
        assert_eq!(cluster_rooms(&plain), (plain.to.clone(), vec![]));
    }
}
