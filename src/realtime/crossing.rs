//! The fan-out across nodes (with `REDIS_URL`). The node where an event
//! happened delivers its emits to its own sockets at once
//! ([`Fanout::send`](super::fanout::Fanout::send)), then hands them here: one
//! task publishes everything waiting, in order, as one Redis message on
//! `{prefix}:emits.v2`, and every other node delivers what it reads there to
//! its own sockets, in the same order, through the same per-socket path.
//! A message carries at most [`MAX_BATCH`] emits.
//!
//! Why not the socketioxide-redis adapter's broadcast (which the rooms'
//! joins, leaves and disconnections still use): it publishes one message
//! per emit (a message, and each of its receipts), every node decodes
//! every one of them, its own included, and an emit that leaves some
//! sockets out makes each node gather every socket of the rooms left out.
//! Batched here, a node publishes once per round
//! trip to Redis whatever the rate, skips its own messages by their first
//! bytes, and picks each socket's event names by its dialect.
//!
//! The channel's name carries the format's version (`emits.v2`: one emit
//! per message, with its names per dialect), so nodes of an older format
//! never read what they cannot: they miss each other's emits instead, and
//! their clients catch up by seq, until the roll is over.
//!
//! Redis slow or away: this node's sockets already have everything. A
//! batch that could not be published is tried again (everything after it
//! waits, so order holds) until its oldest emit is [`HOLD`] old; then the
//! other nodes miss it, and their clients catch up by seq when they next
//! resync.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use socketioxide_redis::drivers::Driver;
use tokio::{sync::mpsc, task::JoinHandle};
use uuid::Uuid;

use super::{Io, fanout::deliver, outbound::Emit, rooms::Names};
use crate::cluster::ClusterDriver;

/// The most emits one Redis message carries.
const MAX_BATCH: usize = 256;
/// How long an emit waits for Redis before the other nodes go without it.
const HOLD: Duration = Duration::from_secs(2);
/// How long to wait before publishing a batch again.
const AGAIN: Duration = Duration::from_millis(100);
/// How many messages from other nodes may wait to be delivered here.
const INCOMING: usize = 8192;

/// An emit as it crosses (written).
#[derive(Serialize)]
struct Out<'a> {
    to: &'a [String],
    except: &'a [String],
    /// The names for `dm`, `backend` and `backend1` (`null`: not heard).
    names: Names<'a>,
    data: &'a RawValue,
}

/// An emit as it crosses (read).
#[derive(Deserialize)]
struct In {
    to: Vec<String>,
    except: Vec<String>,
    names: [Option<String>; 3],
    data: Box<RawValue>,
}

/// This node's side of the crossing: a queue to the publishing task.
#[derive(Clone)]
pub struct Crossing(mpsc::UnboundedSender<Queued>);

/// An emit waiting to cross: when it was queued, what, its data.
type Queued = (Instant, Emit, Box<RawValue>);

impl Crossing {
    /// Starts publishing this node's emits and delivering the other nodes'
    /// on `{prefix}:emits.v2` (the task returned, to stop before the
    /// namespace goes). The publishing task ends with the last handle.
    pub async fn start(
        io: &Io,
        driver: ClusterDriver,
        prefix: &str,
        node: Uuid,
    ) -> anyhow::Result<(Self, JoinHandle<()>)> {
        let channel = format!("{prefix}:emits.v2");
        let incoming = driver.subscribe(channel.clone(), INCOMING).await?;
        let receiving = tokio::spawn(receive(io.clone(), incoming, node));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(publish(driver, channel, node, rx));
        Ok((Self(tx), receiving))
    }

    /// Queues an emit (already delivered here) for the other nodes.
    pub fn push(&self, emit: Emit, data: Box<RawValue>) {
        let _ = self.0.send((Instant::now(), emit, data));
    }
}

/// Publishes what is queued, everything waiting (up to [`MAX_BATCH`]) in
/// one message, one message at a time (so the other nodes get them in
/// order).
async fn publish(
    driver: ClusterDriver,
    channel: String,
    node: Uuid,
    mut queue: mpsc::UnboundedReceiver<Queued>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::gauge!("samvad_crossing_queue").set(queue.len() as f64);
        let emits: Vec<Out> = batch
            .iter()
            .map(|(_, emit, data)| Out {
                to: &emit.to,
                except: &emit.except,
                names: emit.names,
                data,
            })
            .collect();
        let mut body = node.as_bytes().to_vec();
        if serde_json::to_writer(&mut body, &emits).is_ok() {
            let oldest = batch[0].0;
            while let Err(err) = driver.publish(channel.clone(), body.clone()).await {
                if oldest.elapsed() >= HOLD {
                    tracing::debug!(error = %err, emits = batch.len(), "the other nodes miss these emits");
                    break;
                }
                tokio::time::sleep(AGAIN).await;
            }
        }
        batch.clear();
    }
}

/// Delivers the other nodes' emits to this node's sockets, in order.
async fn receive(
    io: Io,
    mut incoming: socketioxide_redis::drivers::MessageStream<(String, Vec<u8>)>,
    node: Uuid,
) {
    while let Some((_, body)) = incoming.next().await {
        let Some((from, emits)) = body.split_at_checked(16) else {
            continue;
        };
        if from == node.as_bytes() {
            continue;
        }
        match serde_json::from_slice::<Vec<In>>(emits) {
            Ok(emits) => {
                for emit in emits {
                    let names = Names(emit.names.each_ref().map(Option::as_deref));
                    deliver(&io, &emit.to, &emit.except, names, &emit.data);
                }
            }
            Err(err) => tracing::warn!(error = %err, "unreadable emits from another node"),
        }
    }
}
