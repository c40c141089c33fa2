//! A fake clamd for tests: a tokio task on `127.0.0.1:0` that speaks
//! clamd's `zINSTREAM` (and `zPING`) and finds exactly one virus, the
//! EICAR test string.
//!
//! Like clamd it answers `stream: Eicar-Test-Signature FOUND\0` or
//! `stream: OK\0` and closes the connection; past the stream limit given
//! to [`FakeClamd::with_limit`] it answers
//! `INSTREAM size limit exceeded. ERROR\0` and hangs up mid-stream, as
//! clamd does past its `StreamMaxLength`.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// The EICAR anti-virus test file's content.
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A running fake clamd; dropping it stops the server.
pub struct FakeClamd {
    /// `127.0.0.1:<port>`, as `scan_file` takes it.
    pub addr: String,
    scans: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FakeClamd {
    /// Starts a fake clamd with no stream limit.
    pub async fn start() -> FakeClamd {
        Self::with_limit(u64::MAX).await
    }

    /// Starts a fake clamd that refuses streams longer than `max_bytes`.
    pub async fn with_limit(max_bytes: u64) -> FakeClamd {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fake clamd");
        let addr = listener
            .local_addr()
            .expect("the fake clamd's address")
            .to_string();
        let scans = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&scans);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    // A client that breaks the protocol just loses its connection.
                    let _ = serve(conn, max_bytes, &counter).await;
                });
            }
        });
        FakeClamd { addr, scans, task }
    }

    /// How many `INSTREAM` scans were answered (any answer).
    pub fn scans(&self) -> usize {
        self.scans.load(Ordering::SeqCst)
    }
}

impl Drop for FakeClamd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: a NUL-terminated command, then for `INSTREAM` the chunks.
async fn serve(mut conn: TcpStream, max_bytes: u64, scans: &AtomicUsize) -> std::io::Result<()> {
    let mut command = Vec::new();
    loop {
        let byte = conn.read_u8().await?;
        if byte == 0 || command.len() > 64 {
            break;
        }
        command.push(byte);
    }
    match command.as_slice() {
        b"zPING" => return conn.write_all(b"PONG\0").await,
        b"zINSTREAM" => {}
        _ => return conn.write_all(b"UNKNOWN COMMAND\0").await,
    }
    let mut data = Vec::new();
    loop {
        let len = conn.read_u32().await?;
        if len == 0 {
            break;
        }
        if data.len() as u64 + u64::from(len) > max_bytes {
            scans.fetch_add(1, Ordering::SeqCst);
            // Dropping the connection with the rest unread resets it, as clamd's does.
            return conn
                .write_all(b"INSTREAM size limit exceeded. ERROR\0")
                .await;
        }
        let start = data.len();
        data.resize(start + len as usize, 0);
        conn.read_exact(&mut data[start..]).await?;
    }
    scans.fetch_add(1, Ordering::SeqCst);
    let infected = data.windows(EICAR.len()).any(|w| w == EICAR.as_bytes());
    let reply: &[u8] = if infected {
        b"stream: Eicar-Test-Signature FOUND\0"
    } else {
        b"stream: OK\0"
    };
    conn.write_all(reply).await?;
    conn.shutdown().await
}
