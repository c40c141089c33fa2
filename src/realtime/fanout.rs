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
    crossing::Crossing,
    outbound::{self, Action, Emit, Lookups, Needs},
    rooms::{Dialect, Names},
    session::Conn,
};
use crate::{
    domain::{TenantId, events::DomainEvent, participant},
    error::AppError,
    state::AppState,
};

/// Runs until the feed ends (the bus is dropped) or the task is aborted.
pub async fn run(
    io: Io,
    state: AppState,
    fanout: Fanout,
    mut feed: UnboundedReceiver<Arc<DomainEvent>>,
) {
    while let Some(event) = feed.recv().await {
        metrics::gauge!("samvad_fanout_queue").set(feed.len() as f64);
        if let DomainEvent::MessageCreated { message, .. } = &*event {
            let lag = crate::domain::now() - message.created_at;
            metrics::histogram!("samvad_fanout_lag_seconds")
                .record(lag.to_std().unwrap_or_default().as_secs_f64());
        }
        match outbound::needs(&event) {
            // Messages keep their order: planned and sent inline.
            Needs::Nothing | Needs::Caller => {
                let found = lookups(&state, &event).await;
                carry_out(&io, &state, &fanout, outbound::plan(&event, &found)).await;
            }
            // Presence and profiles need a query; they do not hold up messages.
            Needs::Audience | Needs::AudienceAndProfile => {
                let (io, state, fanout) = (io.clone(), state.clone(), fanout.clone());
                tokio::spawn(async move {
                    let found = lookups(&state, &event).await;
                    let actions = outbound::plan(&event, &found);
                    carry_out(&io, &state, &fanout, actions).await;
                });
            }
        }
    }
}

/// Where emits go: this node's sockets, and with several nodes the other
/// nodes' too (through [`Crossing`], set once the server is built).
#[derive(Clone, Default)]
pub struct Fanout(Arc<std::sync::OnceLock<Crossing>>);

impl Fanout {
    /// From now on, emits also cross to the other nodes.
    pub fn cross(&self, crossing: Crossing) {
        let _ = self.0.set(crossing);
    }

    /// Sends one emit (the fan-out's, and typing's, which is not stored):
    /// to this node's sockets at once, and to the other nodes' after.
    pub fn send(&self, io: &Io, emit: Emit) {
        let Some(data) = raw(&emit) else {
            return;
        };
        deliver(io, &emit.to, &emit.except, emit.names, &data);
        if let Some(crossing) = self.0.get() {
            crossing.push(emit, data);
        }
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
                conversations: None,
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

/// Carries the actions out in order.
async fn carry_out(io: &Io, state: &AppState, fanout: &Fanout, actions: Vec<Action>) {
    for action in actions {
        let done = match action {
            Action::Emit(emit) => {
                fanout.send(io, emit);
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

/// An emit's data, serialized once for every socket (and the other nodes).
fn raw(emit: &Emit) -> Option<Box<serde_json::value::RawValue>> {
    serde_json::value::to_raw_value(&emit.data)
        .inspect_err(
            |err| tracing::error!(error = %err, names = ?emit.names, "an event did not serialize"),
        )
        .ok()
}

/// Sends an emit to this node's sockets in any of `to`, except those in any
/// of `except`, each under the names its dialect hears. An emit with no
/// room is dropped: to socket.io, no room means every socket. The dialect
/// is read from each socket (a conversation's members' devices: a few)
/// rather than kept as a room to leave out: socket.io collects every
/// socket of an `except` room into a set for each emit, and every socket
/// would be in a dialect room, a cost that grows with everyone connected.
pub(crate) fn deliver(
    io: &Io,
    to: &[String],
    except: &[String],
    names: Names<'_>,
    data: &serde_json::value::RawValue,
) {
    // No namespace (the server is closing): nobody to deliver to.
    let Some(here) = io.of("/").map(|ns| ns.local()) else {
        return;
    };
    if to.is_empty() {
        return;
    }
    let left_out: Vec<_> = if except.is_empty() {
        vec![]
    } else {
        here.clone()
            .to(except.to_vec())
            .sockets()
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    let same_for_all = names.is_every();
    for socket in here.to(to.to_vec()).sockets() {
        if left_out.contains(&socket.id) {
            continue;
        }
        let dialect = if same_for_all {
            Dialect::All
        } else {
            socket.extensions.get::<Dialect>().unwrap_or(Dialect::All)
        };
        for event in names.heard_by(dialect) {
            match socket.emit(event, data) {
                Ok(()) => {}
                // The client reads slower than it is sent to: rather than
                // let it miss this event unknowingly, end the connection;
                // the client reconnects and catches up by seq.
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                    tracing::warn!(
                        socket = %socket.id,
                        event,
                        "a client fell behind its socket's buffer: disconnected to resync"
                    );
                    let _ = socket.disconnect();
                    break;
                }
                Err(err) => tracing::debug!(error = ?err, event, "emit failed"),
            }
        }
    }
}
