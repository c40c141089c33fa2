//! What the connections record while a step runs, shared by all of them:
//! counters, latency histograms (sharded to keep lock waits short), and the
//! sent/acked/received sets the loss check compares.

use std::{
    collections::HashSet,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use hdrhistogram::Histogram;

const SHARDS: usize = 16;

/// A message as the loss check knows it: who sent it and its number.
pub type Key = (u32, u64);

/// An acked message: its key and the server's message id (16 bytes).
type Acked = (Key, [u8; 16]);

pub struct Step {
    /// Messages handed to the socket (warm-up included).
    pub sent: AtomicU64,
    /// Of those, in the measured window.
    pub sent_measured: AtomicU64,
    pub acked_ok: AtomicU64,
    pub acked_err: AtomicU64,
    /// Peer receipts (of messages of this step), and those during the
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
    received_keys: Vec<Mutex<HashSet<Key>>>,
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
            acked_err: AtomicU64::new(0),
            received: AtomicU64::new(0),
            received_in_window: AtomicU64::new(0),
            echoes: AtomicU64::new(0),
            latency: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            ack_latency: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            acked: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            received_keys: (0..SHARDS).map(|_| Mutex::new(HashSet::new())).collect(),
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
        let shard = key.0 as usize % SHARDS;
        self.acked[shard].lock().unwrap().push((key, id));
        if let (true, Some(us)) = (measured, micros) {
            let _ = self.ack_latency[shard].lock().unwrap().record(us.max(1));
        }
    }

    pub fn record_ack_error(&self, code: String) {
        self.acked_err.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 20 {
            errors.push(code);
        }
    }

    pub fn record_receipt(&self, key: Key, micros: u64, measured: bool, now_nanos: u64) {
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
        let shard = key.0 as usize % SHARDS;
        self.received_keys[shard].lock().unwrap().insert(key);
        if measured {
            let _ = self.latency[shard].lock().unwrap().record(micros.max(1));
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

    /// Acked messages the peer has not received.
    pub fn lost(&self) -> Vec<Key> {
        let mut lost = Vec::new();
        for shard in 0..SHARDS {
            let acked = self.acked[shard].lock().unwrap();
            let received = self.received_keys[shard].lock().unwrap();
            lost.extend(
                acked
                    .iter()
                    .map(|(k, _)| *k)
                    .filter(|k| !received.contains(k)),
            );
        }
        lost
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

    /// Whether every sent message was answered and every acked one arrived.
    pub fn settled(&self) -> bool {
        let sent = self.sent.load(Ordering::Relaxed);
        let acked = self.acked_ok.load(Ordering::Relaxed);
        let failed = self.acked_err.load(Ordering::Relaxed);
        acked + failed >= sent && self.received.load(Ordering::Relaxed) >= acked
    }
}

fn merge(shards: &[Mutex<Histogram<u64>>]) -> Histogram<u64> {
    let mut all = histogram();
    for shard in shards {
        all.add(&*shard.lock().unwrap()).expect("same bounds");
    }
    all
}
