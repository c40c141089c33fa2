//! The `samvad` binary run as `serve` by a test: where it listens.

use std::time::Duration;

/// The log of a `samvad serve` child, line by line.
pub type ServeLog = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>;

/// Waits (at most a minute) until a `samvad serve` child started with piped
/// stderr says where it listens; returns its base URL and the rest of its
/// log.
pub async fn listening(child: &mut tokio::process::Child) -> (String, ServeLog) {
    use tokio::io::AsyncBufReadExt;
    let stderr = child.stderr.take().expect("serve's stderr is piped");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some((_, url)) = line.split_once("listening on ") {
                return url.trim().to_owned();
            }
        }
        panic!("serve exited before listening");
    })
    .await
    .expect("serve did not start");
    (base, lines)
}
