//! Sending deliveries. A batch is claimed in a short transaction (`sending`,
//! one more attempt counted), sent with no lock held, and each outcome
//! written: `sent`; retried later (backoff, or the provider's Retry-After)
//! up to [`MAX_ATTEMPTS`], then `failed` with the reason; `failed` at once
//! when retrying cannot help; a dead token deletes its device. A delivery
//! left `sending` by a crash is tried again after [`STALE`]: with the same
//! collapse id, so a phone that got it shows it once.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{Connection, types::Json};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::credentials::TenantPush;
use crate::{
    delivery::push::{Outcome, PushMessage, Target},
    domain::{Core, TenantId, device::Platform},
    error::AppResult,
};

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u16 = 6;
/// A claim older than this was lost (a crash): the delivery is retried.
const STALE: Duration = Duration::from_secs(120);
/// Sends in flight at once.
const IN_FLIGHT: usize = 32;

#[derive(sqlx::FromRow)]
struct Claimed {
    tenant_id: TenantId,
    id: Uuid,
    device_id: Uuid,
    attempts: u16,
    payload: Json<PushMessage>,
}

/// Where a claimed delivery goes, read from its device.
#[derive(sqlx::FromRow)]
struct Device {
    platform: Platform,
    token: String,
    voip: bool,
}

impl Core {
    /// Sends up to `limit` due deliveries; returns how many were claimed.
    pub async fn send_pushes(&self, limit: u32) -> AppResult<usize> {
        let now = crate::domain::now();
        let claimed = self.claim(limit, now).await?;
        let count = claimed.len();
        // A tenant whose credentials cannot be opened fails its own
        // deliveries, not the batch.
        let mut credentials: HashMap<TenantId, Result<Arc<TenantPush>, String>> = HashMap::new();
        let mut sends = JoinSet::new();
        for delivery in claimed {
            let device = self.device_of(&delivery, now).await?;
            let tenant = delivery.tenant_id;
            let creds = match credentials.get(&tenant) {
                Some(c) => c.clone(),
                None => {
                    let c = self.tenant_push(tenant).await.map(Arc::new).map_err(|err| {
                        tracing::error!(%tenant, error = %err, "push credentials do not open");
                        "credentials_unreadable".to_owned()
                    });
                    credentials.insert(tenant, c.clone());
                    c
                }
            };
            if sends.len() >= IN_FLIGHT
                && let Some(Ok((d, outcome, took))) = sends.join_next().await
            {
                self.record(&d, outcome, took).await?;
            }
            let core = self.clone();
            sends.spawn(async move {
                let started = std::time::Instant::now();
                let outcome = match (&device, creds) {
                    (None, _) => None,
                    (Some(_), Err(reason)) => Some(Outcome::Failed {
                        status: None,
                        reason,
                    }),
                    (Some(device), Ok(creds)) => {
                        Some(core.deliver(&creds, device, &delivery.payload.0).await)
                    }
                };
                (delivery, outcome, started.elapsed())
            });
        }
        while let Some(joined) = sends.join_next().await {
            let Ok((d, outcome, took)) = joined else {
                continue;
            };
            self.record(&d, outcome, took).await?;
        }
        Ok(count)
    }

    /// Claims due deliveries (and those a crash left claimed).
    async fn claim(&self, limit: u32, now: DateTime<Utc>) -> AppResult<Vec<Claimed>> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let stale = now - chrono::Duration::from_std(STALE).unwrap_or_default();
        let claimed: Vec<Claimed> = sqlx::query_as(
            "SELECT tenant_id, id, device_id, attempts, payload FROM push_deliveries
             WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claimed_at < ?)
             ORDER BY next_at LIMIT ? FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(stale)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        for d in &claimed {
            sqlx::query(
                "UPDATE push_deliveries SET state = 'sending', claimed_at = ?,
                     attempts = attempts + 1, updated_at = ?
                 WHERE tenant_id = ? AND id = ?",
            )
            .bind(now)
            .bind(now)
            .bind(d.tenant_id)
            .bind(d.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(claimed
            .into_iter()
            .map(|d| Claimed {
                attempts: d.attempts + 1,
                ..d
            })
            .collect())
    }

    /// The delivery's device, if it is still there and live.
    async fn device_of(&self, d: &Claimed, now: DateTime<Utc>) -> AppResult<Option<Device>> {
        Ok(sqlx::query_as(
            "SELECT d.platform, d.token, d.voip FROM devices d
             JOIN sessions s ON s.id = d.session_id AND s.revoked_at IS NULL AND s.expires_at > ?
             WHERE d.tenant_id = ? AND d.id = ?",
        )
        .bind(now)
        .bind(d.tenant_id)
        .bind(d.device_id)
        .fetch_optional(self.pool())
        .await?)
    }

    async fn deliver(&self, creds: &TenantPush, device: &Device, message: &PushMessage) -> Outcome {
        let push = self.delivery().push();
        let token = device.token.as_str();
        let target = match (device.platform, &creds.fcm, &creds.apns) {
            (Platform::Fcm, Some(fcm), _) => Target::Fcm(fcm, token),
            (Platform::Apns, _, Some(apns)) => Target::Apns {
                credentials: apns,
                token,
                voip: device.voip,
            },
            (platform, ..) => Target::File {
                provider: platform.as_str(),
                token,
            },
        };
        push.send(target, message).await
    }

    /// Writes how a delivery went (`None`: its device is gone).
    async fn record(&self, d: &Claimed, outcome: Option<Outcome>, took: Duration) -> AppResult<()> {
        let now = crate::domain::now();
        let latency = u32::try_from(took.as_millis()).unwrap_or(u32::MAX);
        let (state, status, error, next_at) = match outcome {
            None => ("dropped", None, Some("device_gone".to_owned()), now),
            Some(Outcome::Sent { status }) => ("sent", Some(status), None, now),
            Some(Outcome::BadToken { status, reason }) => {
                sqlx::query("DELETE FROM devices WHERE tenant_id = ? AND id = ?")
                    .bind(d.tenant_id)
                    .bind(d.device_id)
                    .execute(self.pool())
                    .await?;
                tracing::info!(device = %d.device_id, %reason, "a push token is dead: device removed");
                (
                    "failed",
                    Some(status),
                    Some(format!("bad_token: {reason}")),
                    now,
                )
            }
            Some(Outcome::Failed { status, reason }) => ("failed", status, Some(reason), now),
            Some(Outcome::Retry {
                status,
                reason,
                retry_after,
            }) => {
                if d.attempts >= MAX_ATTEMPTS {
                    let why = format!("gave up after {} attempts: {reason}", d.attempts);
                    ("failed", status, Some(why), now)
                } else {
                    let wait = retry_after
                        .unwrap_or_else(|| backoff(d.attempts))
                        .max(backoff(0));
                    let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    ("pending", status, Some(reason), at)
                }
            }
        };
        sqlx::query(
            "UPDATE push_deliveries SET state = ?, status_code = ?, error = ?, next_at = ?,
                 latency_ms = ?, sent_at = IF(? = 'sent', ?, sent_at), claimed_at = NULL,
                 updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(state)
        .bind(status)
        .bind(error.map(|e| e.chars().take(255).collect::<String>()))
        .bind(next_at)
        .bind(latency)
        .bind(state)
        .bind(now)
        .bind(now)
        .bind(d.tenant_id)
        .bind(d.id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// The wait before attempt `attempts + 1`: 1 s, 4 s, 16 s, ~1 min, ~4 min,
/// with up to a quarter more at random so retries spread out.
fn backoff(attempts: u16) -> Duration {
    let base = Duration::from_secs(
        4u64.saturating_pow(attempts.saturating_sub(1).into())
            .min(3600),
    );
    let jitter = rand::random::<f64>() * 0.25;
    base.mul_f64(1.0 + jitter)
}
