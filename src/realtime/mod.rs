//! The Socket.IO front door (socketioxide), at `/socket.io/` on the API's
//! port: polling, polling upgraded to websocket, and websocket only.
//!
//! - [`session`]: authentication at connect, rooms, presence, catch-up.
//! - [`inbound`]: what clients send (seed 004's `dm:*` and the Backend and
//!   Backend1 names; `inbound::calls` the `call:*` events), each on the same
//!   core call as its REST twin.
//! - [`fanout`] and [`outbound`]: every domain event, from whichever front
//!   door, turned into Socket.IO events for the rooms concerned
//!   (`outbound::calls` for calls, `outbound::payloads` for what they carry);
//!   [`crossing`]: with several nodes, the emits carried to the other nodes.
//!
//! The shapes sent and the seeds' field spellings accepted are the REST
//! ones, from [`crate::wire`].
//! - [`mount`]: serving socketioxide from poem, websocket upgrades included.
//!
//! `docs/REALTIME.md` is the wire contract.

mod crossing;
mod fanout;
mod inbound;
mod mount;
pub mod outbound;
pub mod rooms;
mod session;

use engineioxide::service::NotFoundService;
use socketioxide::{SocketIo, handler::ConnectHandler};

use crate::cluster::{Adapter, ClusterDriver};

/// The Socket.IO server, on the cluster adapter.
pub type Io = SocketIo<Adapter>;
/// A socket of this server.
pub type SocketRef = socketioxide::extract::SocketRef<Adapter>;
use tokio::task::JoinHandle;

pub use mount::SocketIoEndpoint;

use crate::state::AppState;

/// The Socket.IO server and its fan-out task.
pub struct Realtime {
    io: Io,
    svc: socketioxide::service::SocketIoService<NotFoundService, Adapter>,
    fanout: JoinHandle<()>,
    /// Delivering the other nodes' emits (several nodes).
    receiving: Option<JoinHandle<()>>,
}

impl Realtime {
    /// Builds the server (on Redis when `REDIS_URL` is set, so that rooms
    /// span the nodes) and starts fanning out the core's events.
    pub async fn start(
        state: &AppState,
        driver: ClusterDriver,
        node: uuid::Uuid,
    ) -> anyhow::Result<Self> {
        // One packet limit whatever the transport: the REST body limit (left
        // alone, polling allows 100 kB and websocket 64 MiB). A client that
        // sends more is disconnected, as with engine.io's maxHttpBufferSize.
        let limit = state.config.body_limit;
        let fanout = fanout::Fanout::default();
        let (svc, io) = SocketIo::builder()
            .with_adapter::<Adapter>(driver.clone().adapter(&state.config.redis_prefix))
            // Packets waiting for a slow client (socketioxide's default
            // 128); one that falls further behind is disconnected and
            // resyncs by seq (`fanout::deliver`). Slots are allocated as used.
            .max_buffer_size(1024)
            .max_payload(limit as u64)
            // Kept per websocket for its life (socketioxide's default 4 KiB):
            // chat packets are a few hundred bytes, and a larger one is read
            // in several turns.
            .ws_read_buffer_size(512)
            .ws_max_message_size(limit)
            .ws_max_frame_size(limit)
            .with_state(state.clone())
            .with_state(fanout.clone())
            .build_svc();
        io.ns("/", session::on_connect.with(session::authenticate))
            .await
            .map_err(|err| anyhow::anyhow!("the Socket.IO adapter did not start: {err}"))?;
        // Only now: delivering what other nodes send needs the namespace.
        let receiving = if matches!(driver, ClusterDriver::Local) {
            None
        } else {
            let prefix = &state.config.redis_prefix;
            let (crossing, receiving) =
                crossing::Crossing::start(&io, driver, prefix, node).await?;
            fanout.cross(crossing);
            Some(receiving)
        };
        let feed = state.core.events().feed();
        let fanout = tokio::spawn(fanout::run(io.clone(), state.clone(), fanout, feed));
        Ok(Self {
            io,
            svc,
            fanout,
            receiving,
        })
    }

    /// The poem endpoint to mount at `/socket.io`.
    pub fn endpoint(&self) -> SocketIoEndpoint {
        SocketIoEndpoint::new(self.svc.clone())
    }

    /// A handle to emit and inspect sockets with.
    pub fn io(&self) -> &Io {
        &self.io
    }

    /// Disconnects every socket and stops the fan-out.
    pub async fn close(&self) {
        if let Some(receiving) = &self.receiving {
            receiving.abort();
        }
        self.io.close().await;
        self.fanout.abort();
    }
}
