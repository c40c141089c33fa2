//! `samvad::media::clamd` against the fake clamd (`helpers::clamd`).

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use samvad::media::clamd::{ScanError, Verdict, scan_file};

use crate::helpers::clamd::{EICAR, FakeClamd};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A file under the system's temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn with(content: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("samvad-scan-{}", uuid::Uuid::now_v7()));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn clean_and_infected() {
    let clamd = FakeClamd::start().await;
    // Bigger than one chunk, so the stream has several.
    let clean = TempFile::with(&vec![b'a'; 200 * 1024]);
    assert_eq!(
        scan_file(&clamd.addr, clean.path(), TIMEOUT).await.unwrap(),
        Verdict::Clean
    );

    let mut body = vec![b'b'; 100_000];
    body.extend_from_slice(EICAR.as_bytes());
    let infected = TempFile::with(&body);
    assert_eq!(
        scan_file(&clamd.addr, infected.path(), TIMEOUT)
            .await
            .unwrap(),
        Verdict::Infected("Eicar-Test-Signature".into())
    );
    let empty = TempFile::with(b"");
    assert_eq!(
        scan_file(&clamd.addr, empty.path(), TIMEOUT).await.unwrap(),
        Verdict::Clean
    );
    assert_eq!(clamd.scans(), 3);
}

#[tokio::test]
async fn nothing_listening_is_unavailable_at_once() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let file = TempFile::with(b"hello");
    let started = Instant::now();
    let err = scan_file(&addr, file.path(), TIMEOUT).await.unwrap_err();
    assert!(matches!(err, ScanError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts (the kernel does) but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let file = TempFile::with(b"hello");
    let started = Instant::now();
    let err = scan_file(&addr, file.path(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn over_the_stream_limit_is_unavailable_with_clamds_reason() {
    let clamd = FakeClamd::with_limit(1024).await;
    // Far more than the socket buffers hold, so the send breaks mid-way.
    let big = TempFile::with(&vec![b'c'; 8 * 1024 * 1024]);
    let err = scan_file(&clamd.addr, big.path(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("INSTREAM size limit exceeded. ERROR"),
        "{err}"
    );
    // Under the limit it scans.
    let small = TempFile::with(b"small");
    assert_eq!(
        scan_file(&clamd.addr, small.path(), TIMEOUT).await.unwrap(),
        Verdict::Clean
    );
}

#[tokio::test]
async fn a_missing_file_is_a_file_error() {
    let clamd = FakeClamd::start().await;
    let err = scan_file(&clamd.addr, Path::new("/nonexistent/samvad-scan"), TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::File(_)), "{err:?}");
    assert_eq!(clamd.scans(), 0);
}
