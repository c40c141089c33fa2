//! A virus scan by clamd, over TCP, with its `INSTREAM` command.
//!
//! The file is streamed as it is read: `zINSTREAM\0`, then chunks (a
//! big-endian `u32` length and the bytes), then a zero-length chunk; clamd
//! answers one NUL-terminated line: `stream: OK`, `stream: <name> FOUND`,
//! or `... ERROR`. Anything but a verdict (clamd down, slow, or refusing
//! the stream, e.g. over its `StreamMaxLength`) is
//! [`ScanError::Unavailable`]: the caller answers 503 and never lets an
//! unscanned file through.

use std::{future::Future, path::Path, time::Duration};

use tokio::{
    fs::File,
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    time,
};

/// The bytes of one chunk sent to clamd.
const CHUNK: usize = 64 * 1024;
/// The longest reply read; clamd's are one short line.
const MAX_REPLY: usize = 4096;
/// How long to wait for clamd's reason after it hung up mid-stream.
const HANGUP_GRACE: Duration = Duration::from_secs(1);

/// What clamd said of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Clean,
    /// A signature matched; its name, e.g. `Eicar-Test-Signature`.
    Infected(String),
}

/// Why there is no verdict.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// clamd could not be reached, was too slow, refused the stream or
    /// answered something else than a verdict.
    #[error("virus scanner unavailable: {0}")]
    Unavailable(String),
    /// The file to scan could not be read.
    #[error("reading the file to scan: {0}")]
    File(String),
}

/// Scans the file at `path` with the clamd at `addr` (`host:port`).
///
/// `timeout` bounds the connect and every read and write on the
/// connection, the wait for the verdict included; it is not a limit on
/// the whole scan, which grows with the file.
pub async fn scan_file(addr: &str, path: &Path, timeout: Duration) -> Result<Verdict, ScanError> {
    let file_err = |e: std::io::Error| ScanError::File(format!("{}: {e}", path.display()));
    let mut file = File::open(path).await.map_err(file_err)?;
    let mut conn = within(timeout, "connecting to clamd", TcpStream::connect(addr)).await?;
    match send(&mut conn, &mut file, timeout).await {
        Ok(()) => parse_reply(&read_reply(&mut conn, timeout).await?),
        Err(Sent::File(e)) => Err(file_err(e)),
        // clamd hangs up on a stream over its StreamMaxLength, after it
        // has said so: read its reason, if any, rather than the broken pipe.
        Err(Sent::Net(e)) => match read_reply(&mut conn, timeout.min(HANGUP_GRACE)).await {
            Ok(reply) => parse_reply(&reply),
            Err(_) => Err(e),
        },
    }
}

/// Where sending failed: reading the file, or the connection.
enum Sent {
    File(std::io::Error),
    Net(ScanError),
}

/// Sends the command, the file in chunks, and the closing empty chunk.
async fn send(conn: &mut TcpStream, file: &mut File, timeout: Duration) -> Result<(), Sent> {
    let sending = "sending to clamd";
    within(timeout, sending, conn.write_all(b"zINSTREAM\0"))
        .await
        .map_err(Sent::Net)?;
    let mut buf = vec![0; 4 + CHUNK];
    loop {
        let n = file.read(&mut buf[4..]).await.map_err(Sent::File)?;
        // n <= CHUNK, far below u32::MAX.
        buf[..4].copy_from_slice(&(n as u32).to_be_bytes());
        within(timeout, sending, conn.write_all(&buf[..4 + n]))
            .await
            .map_err(Sent::Net)?;
        if n == 0 {
            return Ok(());
        }
    }
}

/// Reads clamd's reply up to its NUL (or the connection's end).
async fn read_reply(conn: &mut TcpStream, timeout: Duration) -> Result<String, ScanError> {
    let mut reply = Vec::new();
    let mut buf = [0; 512];
    loop {
        let n = within(timeout, "waiting for clamd's verdict", conn.read(&mut buf)).await?;
        reply.extend_from_slice(&buf[..n]);
        if n == 0 || reply.contains(&0) || reply.len() > MAX_REPLY {
            break;
        }
    }
    if let Some(end) = reply.iter().position(|&b| b == 0) {
        reply.truncate(end);
    }
    if reply.is_empty() {
        return Err(ScanError::Unavailable(
            "clamd closed the connection without a reply".into(),
        ));
    }
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

/// Turns clamd's reply line into a verdict.
fn parse_reply(reply: &str) -> Result<Verdict, ScanError> {
    let body = reply.strip_prefix("stream:").map_or(reply, str::trim_start);
    if body == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(name) = body.strip_suffix(" FOUND")
        && !name.trim().is_empty()
    {
        return Ok(Verdict::Infected(name.trim().to_owned()));
    }
    let reply: String = reply.chars().take(200).collect();
    if reply.ends_with("ERROR") {
        Err(ScanError::Unavailable(format!("clamd: {reply}")))
    } else {
        Err(ScanError::Unavailable(format!("clamd answered {reply:?}")))
    }
}

/// Runs `op` within `timeout`; a timeout or an I/O error is `Unavailable`.
async fn within<T>(
    timeout: Duration,
    what: &str,
    op: impl Future<Output = std::io::Result<T>>,
) -> Result<T, ScanError> {
    match time::timeout(timeout, op).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ScanError::Unavailable(format!("{what}: {e}"))),
        Err(_) => Err(ScanError::Unavailable(format!(
            "{what}: timed out after {timeout:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse_reply("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND").unwrap(),
            Verdict::Infected("Win.Test.EICAR_HDB-1".into())
        );
        let limit = parse_reply("INSTREAM size limit exceeded. ERROR").unwrap_err();
        assert!(limit.to_string().contains("size limit exceeded"), "{limit}");
        assert!(matches!(
            parse_reply("stream: FOUND"),
            Err(ScanError::Unavailable(_))
        ));
        assert!(matches!(
            parse_reply("PONG"),
            Err(ScanError::Unavailable(_))
        ));
    }
}
