//! One client of `samvad-loadgen rest`: a user with their own keep-alive
//! HTTP/1.1 connection (hyper's connection-level client, so nothing is
//! pooled or shared between clients) sending into their own direct
//! conversation, one request at a time, and what it counted.

use std::{
    collections::HashMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request,
    client::conn::http1::SendRequest,
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue},
};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

/// A send unanswered this long counts as `timeout` (as in rest_send.mjs).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// After a network error, wait this long before the next send (do not
/// spin on a server that is gone).
const BACKOFF: Duration = Duration::from_millis(10);

/// The run's timetable and target, the same for every client.
pub struct Plan {
    pub server: SocketAddr,
    /// The `Host` header.
    pub host: HeaderValue,
    /// clientMsgId prefix, unique per run.
    pub run: String,
    pub clients: usize,
    /// Open loop: total sends a second (arrival i is due at
    /// `start + i / rate` and goes to client i mod `clients`); `None`:
    /// closed loop.
    pub rate: Option<f64>,
    pub start: Instant,
    /// The measured window, [t0, t1): sends started (closed loop) or due
    /// (open loop) in it are counted.
    pub t0: Instant,
    pub t1: Instant,
    /// Open loop: sends not started by then are abandoned.
    pub drain_until: Instant,
}

/// What one client counted (merged over clients by `Tally::merge`).
pub struct Tally {
    /// µs, accepted sends of the window: from the start of the request
    /// (closed loop) or from when it was due (open loop, queueing included).
    pub latency: Histogram<u64>,
    /// Open loop: µs from the request's start alone.
    pub service: Histogram<u64>,
    /// Open loop: µs a client woke up late for a send that was not yet due
    /// (the client's own scheduling delay).
    pub wake_lag: Histogram<u64>,
    /// Accepted sends of the window, by second.
    pub slices: Vec<u64>,
    /// Sends of the window refused with 503 `overloaded`.
    pub refused: u64,
    /// Other failures of the window: "status code", "timeout", "network ...".
    pub errors: HashMap<String, u64>,
    pub warmup_accepted: u64,
    /// (seq, message id) of every acknowledged send, warm-up included.
    pub acked: Vec<(u64, [u8; 16])>,
    /// Open loop: the most sends a client had due behind the one it sent.
    pub max_backlog: u64,
    /// Open loop: sends due in the window and still not started when the
    /// drain ended.
    pub not_sent: u64,
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs .. 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

impl Tally {
    pub fn new() -> Self {
        Self {
            latency: histogram(),
            service: histogram(),
            wake_lag: histogram(),
            slices: Vec::new(),
            refused: 0,
            errors: HashMap::new(),
            warmup_accepted: 0,
            acked: Vec::new(),
            max_backlog: 0,
            not_sent: 0,
        }
    }

    /// Adds `other`'s counts to these (its acks are the caller's to keep).
    pub fn merge(&mut self, other: &Tally) {
        self.latency.add(&other.latency).expect("same bounds");
        self.service.add(&other.service).expect("same bounds");
        self.wake_lag.add(&other.wake_lag).expect("same bounds");
        if self.slices.len() < other.slices.len() {
            self.slices.resize(other.slices.len(), 0);
        }
        for (a, b) in self.slices.iter_mut().zip(&other.slices) {
            *a += b;
        }
        self.refused += other.refused;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        self.warmup_accepted += other.warmup_accepted;
        self.max_backlog = self.max_backlog.max(other.max_backlog);
        self.not_sent += other.not_sent;
    }

    fn error(&mut self, key: String) {
        *self.errors.entry(key).or_default() += 1;
    }
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    success: bool,
    data: Option<Stored>,
    error: Option<Failure>,
}

#[derive(Deserialize)]
struct Stored {
    id: String,
    seq: u64,
}

#[derive(Deserialize)]
struct Failure {
    code: Option<String>,
}

pub struct Client {
    pub index: usize,
    /// `/api/conversations/{id}/messages`
    pub path: String,
    authorization: HeaderValue,
    conn: Option<SendRequest<Full<Bytes>>>,
    sends: u64,
}

/// Opens a keep-alive HTTP/1.1 connection to `server`.
async fn connect(server: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the connection closes; a send then fails and reconnects.
        let _ = connection.await;
    });
    Ok(sender)
}

/// A network error as rest_send.mjs names it: "network <what>".
fn network(err: &hyper::Error) -> String {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return format!("network {:?}", io.kind());
        }
        source = s.source();
    }
    if err.is_incomplete_message() {
        "network incomplete message".into()
    } else if err.is_closed() {
        "network closed".into()
    } else {
        format!("network {err}")
    }
}

impl Client {
    pub async fn new(
        index: usize,
        conversation: &str,
        token: &str,
        plan: &Plan,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            index,
            path: format!("/api/conversations/{conversation}/messages"),
            authorization: HeaderValue::from_str(&format!("Bearer {token}"))?,
            conn: Some(connect(plan.server).await?),
            sends: 0,
        })
    }

    /// One request on this client's connection (opened again after an
    /// error): the status and body, or the error as counted.
    pub async fn request(
        &mut self,
        plan: &Plan,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), String> {
        if self.conn.is_none() {
            let conn = connect(plan.server).await;
            self.conn = Some(conn.map_err(|e| format!("network connect: {e}"))?);
        }
        let conn = self.conn.as_mut().expect("connected");
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, plan.host.clone())
            .header(AUTHORIZATION, self.authorization.clone());
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            conn.ready().await?;
            let res = conn.send_request(req).await?;
            let status = res.status().as_u16();
            Ok::<_, hyper::Error>((status, res.into_body().collect().await?.to_bytes()))
        };
        match tokio::time::timeout(SEND_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(err)) => {
                self.conn = None;
                Err(network(&err))
            }
            Err(_) => {
                self.conn = None;
                Err("timeout".into())
            }
        }
    }

    /// Sends until the window closes (closed loop), or this client's share
    /// of the timetable (open loop); returns what it counted.
    pub async fn drive(mut self, plan: &Plan) -> Tally {
        let mut tally = Tally::new();
        let Some(rate) = plan.rate else {
            loop {
                let at = Instant::now();
                if at >= plan.t1 {
                    return tally;
                }
                if !self.send(plan, at, &mut tally).await {
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        };
        // Arrival `index + k * clients` of the whole timetable is this
        // client's k-th: sent in order, one at a time, each after the last.
        let n = plan.clients as f64;
        let index = self.index as f64;
        let due = |k: u64| plan.start + Duration::from_secs_f64((index + k as f64 * n) / rate);
        let mut k = 0u64;
        loop {
            let at = due(k);
            if at >= plan.t1 {
                return tally;
            }
            let now = Instant::now();
            if now >= plan.drain_until {
                tally.not_sent = (k..)
                    .map(due)
                    .take_while(|at| *at < plan.t1)
                    .filter(|at| *at >= plan.t0)
                    .count() as u64;
                return tally;
            }
            if at > now {
                tokio::time::sleep_until(at.into()).await;
                let late = Instant::now().saturating_duration_since(at).as_micros() as u64;
                let _ = tally.wake_lag.record(late.max(1));
            } else {
                // Arrivals of this client due by now, behind this one.
                let elapsed = (now - plan.start).as_secs_f64();
                let due_by_now = ((elapsed * rate - index) / n).floor() as u64 + 1;
                let behind = due_by_now.saturating_sub(k + 1);
                tally.max_backlog = tally.max_backlog.max(behind);
            }
            if !self.send(plan, at, &mut tally).await {
                tokio::time::sleep(BACKOFF).await;
            }
            k += 1;
        }
    }

    /// One message, counted by `at` (when it started, or was due); false
    /// after a network error or timeout.
    async fn send(&mut self, plan: &Plan, at: Instant, tally: &mut Tally) -> bool {
        self.sends += 1;
        let (i, n, run) = (self.index, self.sends, &plan.run);
        let body = format!(
            r#"{{"content":"bench concurrent {i} {n}: the stars are aligned for a quick reply","clientMsgId":"{run}-c{i}-{n}"}}"#
        );
        let start = Instant::now();
        let path = self.path.clone();
        let answer = self
            .request(plan, Method::POST, &path, Some(body.into()))
            .await;
        let end = Instant::now();
        let in_window = at >= plan.t0 && at < plan.t1;
        let (status, text) = match answer {
            Ok(answer) => answer,
            Err(key) => {
                if in_window {
                    tally.error(key);
                }
                return false;
            }
        };
        let reply: Option<Reply> = serde_json::from_slice(&text).ok();
        let stored = reply
            .as_ref()
            .filter(|r| r.success && (status == 200 || status == 201))
            .and_then(|r| r.data.as_ref())
            .and_then(|d| Some((d.seq, crate::conn::uuid_bytes(&d.id)?)));
        if let Some(message) = stored {
            tally.acked.push(message);
            if in_window {
                let _ = tally.latency.record(micros(end - at));
                if plan.rate.is_some() {
                    let _ = tally.service.record(micros(end - start));
                }
                let second = (at - plan.t0).as_secs() as usize;
                if tally.slices.len() <= second {
                    tally.slices.resize(second + 1, 0);
                }
                tally.slices[second] += 1;
            } else if at < plan.t0 {
                tally.warmup_accepted += 1;
            }
        } else if in_window {
            let code = reply
                .and_then(|r| r.error)
                .and_then(|e| e.code)
                .unwrap_or_else(|| "?".into());
            if status == 503 && code == crate::stats::OVERLOADED {
                tally.refused += 1;
            } else {
                tally.error(format!("{status} {code}"));
            }
        }
        true
    }
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}
