//! SMS senders: a file for development, an HMAC-signed webhook for a real
//! gateway.
//!
//! The webhook receives `POST` with JSON `{"tenant","to","text"}` and two
//! headers: `X-Samvad-Timestamp` (Unix seconds) and `X-Samvad-Signature:
//! sha256=<hex>`, the HMAC-SHA256 with the shared secret of
//! `"{timestamp}.{body}"`. The gateway should refuse stale timestamps.

use std::path::PathBuf;

use anyhow::Context;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::io::AsyncWriteExt;

use crate::config::Secret;

/// One text message.
#[derive(Debug, Clone, Serialize)]
pub struct Sms {
    /// Tenant slug, so one gateway can serve several brands.
    pub tenant: String,
    /// E.164 number.
    pub to: String,
    pub text: String,
}

/// Something that delivers SMS.
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, sms: &Sms) -> anyhow::Result<()>;
}

/// Appends each SMS as a JSON line to a file (development).
pub struct FileSms {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl FileSms {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl SmsSender for FileSms {
    async fn send(&self, sms: &Sms) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(sms)?;
        line.push(b'\n');
        let _one_writer = self.lock.lock().await;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .with_context(|| format!("opening {}", self.path.display()))?;
        file.write_all(&line).await?;
        tracing::info!(to = %sms.to, file = %self.path.display(), "SMS written to file (no gateway configured)");
        Ok(())
    }
}

/// POSTs each SMS to a gateway, signed with HMAC-SHA256.
pub struct WebhookSms {
    client: reqwest::Client,
    url: String,
    secret: Secret,
}

impl WebhookSms {
    pub fn new(url: String, secret: Secret) -> Self {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("an HTTP client with a timeout");
        Self {
            client,
            url,
            secret,
        }
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "{timestamp}.{body}").
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[async_trait::async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, sms: &Sms) -> anyhow::Result<()> {
        let body = serde_json::to_vec(sms)?;
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-samvad-timestamp", timestamp.to_string())
            .header(
                "x-samvad-signature",
                signature(self.secret.expose().as_bytes(), timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .context("SMS gateway unreachable")?;
        anyhow::ensure!(
            response.status().is_success(),
            "SMS gateway answered {}",
            response.status()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature(b"k", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature(b"k", 2, b"{}"));
        assert_ne!(a, signature(b"k", 1, b"{ }"));
        assert_ne!(a, signature(b"other", 1, b"{}"));
    }
}
