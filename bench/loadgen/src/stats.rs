//! What the connections record while a step runs, shared by all of them:
//! counters, latency histograms (sharded to keep lock waits short), and the
//! acked messages and their receipt counts the loss check compares.
//!
//! A message is expected `expected` times: once (the peer) in a one-to-one
//! conversation, once per other connected member in a group. Each receipt
//! is a delivery; latency is recorded per delivery.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use hdrhistogram::Histogram;

const SHARDS: usize = 16;

/// A message as the loss check knows it: who sent it and its number.
pub type Key = (u32, u64);

/// The deliveries of one message: how many, and to which connections.
#[derive(Default)]
struct Receipts {
    count: u32,
    receivers: std::collections::HashSet<u32>,
}

/// An acked message: its key and the server's message id (16 bytes).
type Acked = (Key, [u8; 16]);

/// The ack error code of a send refused at once past the server's bound.
pub const OVERLOADED: &str = "overloaded";

pub struct Step {
    /// Messages handed to the socket (warm-up included).
    pub sent: AtomicU64,
    /// Of those, in the measured window.
    pub sent_measured: AtomicU64,
    /// Sends the server accepted (acked with a message id), all and of
    /// those sent in the measured window.
    pub acked_ok: AtomicU64,
    pub acked_ok_measured: AtomicU64,
    /// Failed acks (refusals included).
    pub acked_err: AtomicU64,
    /// Sends refused at once as `overloaded`, all and measured.
    pub refused: AtomicU64,
    pub refused_measured: AtomicU64,
    /// Deliveries expected per accepted message (set by the driver before
    /// the step: 1 for pairs, connected members - 1 for a group).
    pub expected: AtomicU64,
    /// Deliveries (of messages of this step), and those during the
    /// measured window.
    pub received: AtomicU64,
    pub received_in_window: AtomicU64,
    /// The sender's own copy (every member's devices hear a message).
    pub echoes: AtomicU64,
    /// Microseconds from handing the frame to the socket until the peer read
    /// it (measured window only), and until the ack came back.
    latency: Vec<Mutex<Histogram<u64>>>,
    ack_latency: Vec<Mutex<Histogram<u64>>>,
    /// Acked messages: key and the server's message id (16 bytes).
    acked: Vec<Mutex<Vec<Acked>>>,
    /// Deliveries per message (sharded by sender).
    receipts: Vec<Mutex<HashMap<Key, Receipts>>>,
    /// Error codes of failed acks (first few).
    pub errors: Mutex<Vec<String>>,
    /// Whether receipts are counted as in the window (set by the driver).
    pub window_open: std::sync::atomic::AtomicBool,
    /// When the window opened (loadgen nanos), and per second of it the
    /// receipts and the slowest one (µs): stalls show here.
    pub window_start: AtomicU64,
    timeline: Mutex<Vec<(u64, u64)>>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

impl Step {
    pub fn new() -> Self {
        Self {
            sent: AtomicU64::new(0),
            sent_measured: AtomicU64::new(0),
            acked_ok: AtomicU64::new(0),
            acked_ok_measured: AtomicU64::new(0),
            acked_err: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refused_measured: AtomicU64::new(0),
            expected: AtomicU64::new(1),
            received: AtomicU64::new(0),
            received_in_window: AtomicU64::new(0),
            echoes: AtomicU64::new(0),
            latency: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            ack_latency: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            acked: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            receipts: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            errors: Mutex::new(Vec::new()),
            window_open: std::sync::atomic::AtomicBool::new(false),
            window_start: AtomicU64::new(0),
            timeline: Mutex::new(Vec::new()),
        }
    }

    pub fn record_sent(&self, measured: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if measured {
            self.sent_measured.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn record_ack(&self, key: Key, id: [u8; 16], micros: Option<u64>, measured: bool) {
        self.acked_ok.fetch_add(1, Ordering::Relaxed);
        if measured {
            self.acked_ok_measured.fetch_add(1, Ordering::Relaxed);
        }
        let shard = key.0 as usize % SHARDS;
        self.acked[shard].lock().unwrap().push((key, id));
        if let (true, Some(us)) = (measured, micros) {
            let _ = self.ack_latency[shard].lock().unwrap().record(us.max(1));
        }
    }

    pub fn record_ack_error(&self, code: String, measured: bool) {
        self.acked_err.fetch_add(1, Ordering::Relaxed);
        if code == OVERLOADED {
            self.refused.fetch_add(1, Ordering::Relaxed);
            if measured {
                self.refused_measured.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 20 {
            errors.push(code);
        }
    }

    /// One delivery of `key` to connection `receiver`.
    pub fn record_receipt(
        &self,
        key: Key,
        receiver: u32,
        micros: u64,
        measured: bool,
        now_nanos: u64,
    ) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if self.window_open.load(Ordering::Relaxed) {
            self.received_in_window.fetch_add(1, Ordering::Relaxed);
            let second = (now_nanos.saturating_sub(self.window_start.load(Ordering::Relaxed))
                / 1_000_000_000) as usize;
            let mut timeline = self.timeline.lock().unwrap();
            if timeline.len() <= second {
                timeline.resize(second + 1, (0, 0));
            }
            timeline[second].0 += 1;
            timeline[second].1 = timeline[second].1.max(micros);
        }
        let mut receipts = self.receipts[key.0 as usize % SHARDS].lock().unwrap();
        let got = receipts.entry(key).or_default();
        got.count += 1;
        got.receivers.insert(receiver);
        if measured {
            let _ = self.latency[receiver as usize % SHARDS]
                .lock()
                .unwrap()
                .record(micros.max(1));
        }
    }

    /// Per second of the window: receipts and the slowest, in ms.
    pub fn timeline(&self) -> Vec<(u64, f64)> {
        self.timeline
            .lock()
            .unwrap()
            .iter()
            .map(|(n, max)| (*n, (*max as f64 / 100.0).round() / 10.0))
            .collect()
    }

    pub fn latency(&self) -> Histogram<u64> {
        merge(&self.latency)
    }

    pub fn ack_latency(&self) -> Histogram<u64> {
        merge(&self.ack_latency)
    }

    /// Acked messages compared with their deliveries: deliveries missing,
    /// the messages short of `expected` deliveries, and deliveries past it
    /// (duplicates).
    pub fn lost(&self) -> Loss {
        let expected = self.expected.load(Ordering::Relaxed);
        let mut loss = Loss::default();
        for shard in 0..SHARDS {
            let acked = self.acked[shard].lock().unwrap();
            let receipts = self.receipts[shard].lock().unwrap();
            for (key, _) in acked.iter() {
                // Receivers, not receipts: one receiver getting a message
                // twice must not hide another that never got it.
                let (count, distinct) = receipts
                    .get(key)
                    .map_or((0, 0), |r| (u64::from(r.count), r.receivers.len() as u64));
                if distinct < expected {
                    loss.deliveries += expected - distinct;
                    loss.messages.push(*key);
                }
                loss.duplicates += count - distinct;
            }
        }
        loss
    }

    /// The server's ids of every acked message.
    pub fn acked_ids(&self) -> Vec<[u8; 16]> {
        self.acked
            .iter()
            .flat_map(|shard| {
                shard
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(_, id)| *id)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Whether every sent message was answered and every acked one was
    /// delivered as often as expected.
    pub fn settled(&self) -> bool {
        let sent = self.sent.load(Ordering::Relaxed);
        let acked = self.acked_ok.load(Ordering::Relaxed);
        let failed = self.acked_err.load(Ordering::Relaxed);
        let expected = self.expected.load(Ordering::Relaxed);
        acked + failed >= sent && self.received.load(Ordering::Relaxed) >= acked * expected
    }
}

/// What the loss check found.
#[derive(Default)]
pub struct Loss {
    /// Deliveries missing (for pairs: messages the peer never received).
    pub deliveries: u64,
    /// The acked messages not delivered as often as expected.
    pub messages: Vec<Key>,
    /// Deliveries past one per receiver.
    pub duplicates: u64,
}

fn merge(shards: &[Mutex<Histogram<u64>>]) -> Histogram<u64> {
    let mut all = histogram();
    for shard in shards {
        all.add(&*shard.lock().unwrap()).expect("same bounds");
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_delivery_does_not_hide_a_missing_one() {
        let step = Step::new();
        step.expected.store(2, Ordering::Relaxed);
        let key = (7, 1);
        step.record_ack(key, [0; 16], None, true);
        // Receiver 1 gets it twice; receiver 2 never does.
        step.record_receipt(key, 1, 10, true, 0);
        step.record_receipt(key, 1, 10, true, 0);
        let loss = step.lost();
        assert_eq!(loss.deliveries, 1);
        assert_eq!(loss.messages, vec![key]);
        assert_eq!(loss.duplicates, 1);

        step.record_receipt(key, 2, 10, true, 0);
        let loss = step.lost();
        assert_eq!((loss.deliveries, loss.duplicates), (0, 1));
    }
}
