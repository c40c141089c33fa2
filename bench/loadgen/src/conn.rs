//! One Socket.IO client over a raw websocket: Engine.IO v4 framing by hand
//! (`0` open, `2` ping, `3` pong, `4` message) and Socket.IO v4 packets
//! (`40` connect, `42` event, `43` ack, `44` connect error).
//!
//! A connection sends `dm:send_message` when the driver tells it to, with an
//! ack id, and reads `dm:message_received`. The content carries who sent it,
//! its number and the send time, so the receiver can time it without a
//! lookup: `lg|{step}|{measured}|{sender}|{n}|{nanos}|` then padding.
//!
//! Samvad emits a message to every member's `user:` room, the sender's
//! included (`src/realtime/outbound.rs`), in a group as in a one-to-one
//! conversation: a connection counts the sender's own copy as an echo and
//! every other member's message as a delivery (in a pair, only its peer's).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::{
    net::TcpSocket,
    sync::{mpsc, oneshot},
};
use tokio_tungstenite::{
    MaybeTlsStream,
    tungstenite::{Message, protocol::WebSocketConfig},
};

use crate::stats::Step;

/// One participant's seat: its connection index, its peer's (`None` in a
/// group: every other member's messages count), its token, the
/// conversation it sends to, and the local address to connect from
/// (`None`: the kernel's choice).
#[derive(Clone)]
pub struct Seat {
    pub idx: u32,
    pub peer: Option<u32>,
    pub token: String,
    pub conversation: String,
    pub source: Option<IpAddr>,
}

pub enum Cmd {
    /// Send one message; `due` is when the schedule wanted it sent
    /// ([`Shared::nanos`]), the origin of its latencies, so that a delay
    /// inside the load generator counts too (no coordinated omission).
    Send {
        step: usize,
        measured: bool,
        due: u64,
    },
    Close,
}

/// What every connection shares.
pub struct Shared {
    pub start: Instant,
    pub steps: Vec<Step>,
    pub run: String,
    pub content_len: usize,
    pub dialect: String,
    pub live: AtomicUsize,
    pub dropped: AtomicUsize,
    /// Why connections ended without being told to (first few).
    pub drop_reasons: Mutex<Vec<String>>,
    /// Engine.IO pings answered (after the Socket.IO connect).
    pub pongs: AtomicU64,
    /// Microseconds from starting the TCP connect to the Socket.IO connect
    /// answer, per connection that came up.
    pub handshake: Mutex<hdrhistogram::Histogram<u64>>,
}

impl Shared {
    pub fn nanos(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

#[derive(Deserialize)]
struct AckBody {
    success: bool,
    data: Option<AckData>,
    error: Option<AckError>,
}

#[derive(Deserialize)]
struct AckData {
    id: Option<String>,
}

#[derive(Deserialize)]
struct AckError {
    code: Option<String>,
}

pub fn uuid_bytes(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|b| *b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Splits leading ASCII digits off `s`.
fn digits(s: &str) -> (Option<u64>, &str) {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        (None, s)
    } else {
        (s[..end].parse().ok(), &s[end..])
    }
}

/// A message's content: the marker `lg|step|measured|sender|n|nanos|`,
/// then padding up to `pad`'s length (the content length asked for).
fn content(pad: &str, step: usize, measured: bool, sender: u32, n: u64, nanos: u64) -> String {
    let marker = format!("lg|{step}|{}|{sender}|{n}|{nanos}|", u8::from(measured));
    let fill = &pad[..pad.len().saturating_sub(marker.len())];
    marker + fill
}

/// Reads `lg|step|measured|sender|n|nanos|` from a message payload.
fn marker(payload: &str) -> Option<(usize, bool, u32, u64, u64)> {
    let at = payload.find("lg|")?;
    let mut parts = payload[at + 3..].splitn(6, '|');
    let step = parts.next()?.parse().ok()?;
    let measured = parts.next()? == "1";
    let sender = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    let nanos = parts.next()?.parse().ok()?;
    Some((step, measured, sender, n, nanos))
}

/// A TCP connection to `server` with Nagle off, from `source` (port
/// chosen by the kernel) when given.
async fn tcp(server: SocketAddr, source: Option<IpAddr>) -> std::io::Result<tokio::net::TcpStream> {
    let socket = match server {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = source {
        // Without IP_BIND_ADDRESS_NO_PORT, bind() picks the port itself by
        // scanning the ports in use: with thousands open that scan costs
        // the load generator most of a core. With it, connect() picks the
        // port, keyed on the whole 4-tuple.
        if ip.is_ipv4() {
            let on: libc::c_int = 1;
            // SAFETY: a valid socket and a c_int option value of its size.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&socket),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Opens the connection to `server` (`url` is its websocket URL),
/// authenticates, then serves commands and frames until told to close or
/// the server goes away. `ready` hears whether the Socket.IO connect
/// succeeded.
pub async fn run(
    url: String,
    server: SocketAddr,
    seat: Seat,
    shared: Arc<Shared>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let began = Instant::now();
    let connected = tokio::time::timeout(Duration::from_secs(60), async {
        let stream = tcp(server, seat.source)
            .await
            .map_err(|err| format!("tcp from {:?}: {err}", seat.source))?;
        tokio_tungstenite::client_async_with_config(
            url.as_str(),
            MaybeTlsStream::Plain(stream),
            Some(config),
        )
        .await
        .map_err(|err| format!("websocket: {err}"))
    })
    .await;
    let mut ws = match connected {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(err)) => {
            let _ = ready.send(Err(err));
            return;
        }
        Err(_) => {
            let _ = ready.send(Err("websocket: timed out".into()));
            return;
        }
    };

    // Engine.IO open, then the Socket.IO connect with the token.
    let handshake = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.starts_with('0') => break,
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(format!("before open: {err}")),
                None => return Err("closed before open".to_owned()),
            }
        }
        let connect = serde_json::json!({ "token": seat.token, "dialect": shared.dialect });
        ws.send(Message::text(format!("40{connect}")))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str() == "2" {
                        ws.send(Message::text("3"))
                            .await
                            .map_err(|e| e.to_string())?;
                    } else if t.starts_with("40") {
                        return Ok(());
                    } else if let Some(why) = t.strip_prefix("44") {
                        return Err(format!("refused: {why}"));
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(format!("before connect: {err}")),
                None => return Err("closed before connect".to_owned()),
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(60), handshake).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            let _ = ready.send(Err(err));
            return;
        }
        Err(_) => {
            let _ = ready.send(Err("socket.io connect timed out".into()));
            return;
        }
    }
    let _ = shared
        .handshake
        .lock()
        .unwrap()
        .record((began.elapsed().as_micros() as u64).max(1));
    shared.live.fetch_add(1, Ordering::Relaxed);
    let _ = ready.send(Ok(()));

    let mut next_n: u64 = 0;
    // ack id (= n) -> (step, measured, sent at)
    let mut pending: HashMap<u64, (usize, bool, u64)> = HashMap::new();
    // Padding up to the content length, after the marker.
    let pad: String = "x".repeat(shared.content_len);
    let mut closing = false;
    let mut why = String::new();
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Send { step, measured, due }) => {
                    next_n += 1;
                    let n = next_n;
                    let t = due.min(shared.nanos());
                    let content = content(&pad, step, measured, seat.idx, n, t);
                    let frame = format!(
                        r#"42{n}["dm:send_message",{{"conversationId":"{}","content":"{content}","clientMsgId":"{}-{}-{n}"}}]"#,
                        seat.conversation,
                        shared.run,
                        seat.idx,
                    );
                    pending.insert(n, (step, measured, t));
                    shared.steps[step].record_sent(measured);
                    if let Err(err) = ws.send(Message::text(frame)).await {
                        why = format!("sending: {err}");
                        break;
                    }
                }
                Some(Cmd::Close) | None => {
                    closing = true;
                    let _ = ws.close(None).await;
                    break;
                }
            },
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(c))) => {
                        why = format!("close frame {c:?}");
                        break;
                    }
                    None => {
                        why = "stream ended".into();
                        break;
                    }
                    Some(Err(err)) => {
                        why = format!("reading: {err}");
                        break;
                    }
                    Some(Ok(_)) => continue,
                };
                let text = text.as_str();
                if text == "2" {
                    if let Err(err) = ws.send(Message::text("3")).await {
                        why = format!("pong: {err}");
                        break;
                    }
                    shared.pongs.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Some(packet) = text.strip_prefix('4') else {
                    if text.starts_with('1') {
                        why = "engine.io close".into();
                        break;
                    }
                    continue;
                };
                if let Some(event) = packet.strip_prefix('2') {
                    let (ack, body) = digits(event);
                    if let Some(ack) = ack {
                        // Anything asking for an ack (catchupDelivered) gets one.
                        if let Err(err) = ws.send(Message::text(format!("43{ack}[]"))).await {
                            why = format!("acking: {err}");
                            break;
                        }
                    }
                    if body.starts_with(r#"["dm:message_received","#) {
                        let now = shared.nanos();
                        if let Some((step, measured, sender, n, nanos)) = marker(body)
                            && step < shared.steps.len()
                        {
                            let stats = &shared.steps[step];
                            if sender == seat.idx {
                                stats.echoes.fetch_add(1, Ordering::Relaxed);
                            } else if seat.peer.is_none_or(|peer| peer == sender) {
                                stats.record_receipt((sender, n), seat.idx, now.saturating_sub(nanos) / 1000, measured, now);
                            }
                        }
                    }
                } else if let Some(ack) = packet.strip_prefix('3') {
                    let (Some(id), body) = digits(ack) else { continue };
                    let Some((step, measured, sent_at)) = pending.remove(&id) else { continue };
                    let now = shared.nanos();
                    let stats = &shared.steps[step];
                    match serde_json::from_str::<Vec<AckBody>>(body) {
                        Ok(mut bodies) if !bodies.is_empty() => {
                            let b = bodies.swap_remove(0);
                            let message = b.data.and_then(|d| d.id).and_then(|id| uuid_bytes(&id));
                            match (b.success, message) {
                                (true, Some(message)) => stats.record_ack(
                                    (seat.idx, id),
                                    message,
                                    Some(now.saturating_sub(sent_at) / 1000),
                                    measured,
                                ),
                                _ => stats.record_ack_error(
                                    b.error.and_then(|e| e.code).unwrap_or_else(|| "no id".into()),
                                    measured,
                                ),
                            }
                        }
                        _ => stats.record_ack_error("unreadable ack".into(), measured),
                    }
                } else if packet.starts_with('1') {
                    why = format!("socket.io disconnect {packet}");
                    break;
                }
            }
        }
    }
    shared.live.fetch_sub(1, Ordering::Relaxed);
    if !closing {
        shared.dropped.fetch_add(1, Ordering::Relaxed);
        let mut reasons = shared.drop_reasons.lock().unwrap();
        if reasons.len() < 10 {
            reasons.push(format!(
                "{:.1}s: {why}",
                shared.start.elapsed().as_secs_f64()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_ids_parse() {
        let body = r#"["dm:message_received",{"content":"lg|2|1|17|5|123456|xxxx","text":"lg|2|1|17|5|123456|xxxx"}]"#;
        assert_eq!(marker(body), Some((2, true, 17, 5, 123456)));
        assert_eq!(digits("12[x]"), (Some(12), "[x]"));
        assert_eq!(digits("[x]"), (None, "[x]"));
        let id = uuid_bytes("01936b2e-8f00-7abc-8def-0123456789ab").unwrap();
        assert_eq!(id[0], 0x01);
        assert_eq!(id[15], 0xab);
    }

    #[test]
    fn content_is_as_long_as_asked_and_keeps_its_marker() {
        let pad = "x".repeat(100);
        let c = content(&pad, 3, true, 42, 7, 123_456_789);
        assert_eq!(c.len(), 100);
        assert_eq!(marker(&c), Some((3, true, 42, 7, 123_456_789)));
        // Shorter than the marker: the marker alone.
        assert_eq!(content(&pad[..5], 3, true, 42, 7, 1), "lg|3|1|42|7|1|");
    }
}
