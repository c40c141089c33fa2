//! Sending deliveries. A batch is claimed in a short transaction (`sending`,
//! one more attempt counted, the claim's time kept as its token), sent with
//! no lock held, and each outcome written only if the claim still stands:
//! `sent`; retried later (backoff, or the provider's Retry-After) up to
//! [`MAX_ATTEMPTS`], then `failed` with the reason; `failed` at once when
//! retrying cannot help; a dead token deletes its device; `dropped` when
//! the device went (or passed to someone else) or the call stopped ringing.
//! A delivery left `sending` by a crash is tried again after [`STALE`], with
//! the same collapse id, so a phone that got it shows it once; one that
//! keeps being lost is given up after [`MAX_ATTEMPTS`] like any other.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{Connection, types::Json};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{DeliveryState, credentials::TenantPush};
use crate::{
    delivery::push::{Outcome, PushKind, PushMessage, Target},
    domain::{
        CallId, Core, ParticipantId, TenantId, call,
        device::{self, Device, Platform},
    },
    error::AppResult,
};

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u16 = 6;
/// A claim older than this was lost (a crash): the delivery is retried.
/// Well over the longest batch (200 sends, 32 at a time, 10 s each).
const STALE: Duration = Duration::from_secs(300);
/// Sends in flight at once.
const IN_FLIGHT: usize = 32;

#[derive(sqlx::FromRow)]
struct Claimed {
    tenant_id: TenantId,
    id: Uuid,
    participant_id: ParticipantId,
    device_id: Uuid,
    attempts: u16,
    payload: Json<PushMessage>,
    /// The claim's time: its outcome is written only while it stands.
    #[sqlx(skip)]
    claimed_at: DateTime<Utc>,
}

/// How a claimed delivery ended this time.
enum Done {
    Tried(Outcome),
    /// Not sent, and never will be.
    Dropped(&'static str),
}

impl Core {
    /// Sends up to `limit` due deliveries; returns how many were claimed.
    pub async fn send_pushes(&self, limit: u32) -> AppResult<usize> {
        let claimed = self.claim(limit, crate::domain::now()).await?;
        let count = claimed.len();
        // A tenant whose credentials cannot be opened fails its own
        // deliveries, not the batch.
        let mut credentials: HashMap<TenantId, Result<Arc<TenantPush>, String>> = HashMap::new();
        let mut sends = JoinSet::new();
        for delivery in claimed {
            let target = match self.target_of(&delivery).await {
                Ok(target) => target,
                Err(err) => {
                    // Left claimed: tried again once the claim is stale.
                    tracing::warn!(delivery = %delivery.id, error = %err, "reading a push's device failed");
                    continue;
                }
            };
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
                && let Some(Ok((d, done, took))) = sends.join_next().await
            {
                self.record(&d, done, took).await;
            }
            let core = self.clone();
            sends.spawn(async move {
                let started = std::time::Instant::now();
                let done = match (target, creds) {
                    (Err(why), _) => Done::Dropped(why),
                    (Ok(_), Err(reason)) => Done::Tried(Outcome::Failed {
                        status: None,
                        reason,
                    }),
                    (Ok(device), Ok(creds)) => {
                        Done::Tried(core.deliver(&creds, &device, &delivery.payload.0).await)
                    }
                };
                (delivery, done, started.elapsed())
            });
        }
        while let Some(joined) = sends.join_next().await {
            if let Ok((d, done, took)) = joined {
                self.record(&d, done, took).await;
            }
        }
        Ok(count)
    }

    /// Claims due deliveries (and those a crash left claimed), rings first;
    /// gives up those lost too often.
    async fn claim(&self, limit: u32, now: DateTime<Utc>) -> AppResult<Vec<Claimed>> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let stale = now - chrono::Duration::from_std(STALE).unwrap_or_default();
        sqlx::query(
            "UPDATE push_deliveries SET state = 'failed', error = 'lost: gave up after repeated attempts',
                 claimed_at = NULL, updated_at = ?
             WHERE state = 'sending' AND claimed_at < ? AND attempts >= ?",
        )
        .bind(now)
        .bind(stale)
        .bind(MAX_ATTEMPTS)
        .execute(&mut *tx)
        .await?;
        let claimed: Vec<Claimed> = sqlx::query_as(
            "SELECT tenant_id, id, participant_id, device_id, attempts, payload FROM push_deliveries
             WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claimed_at < ?)
             ORDER BY kind = 'call' DESC, next_at LIMIT ? FOR UPDATE SKIP LOCKED",
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
                claimed_at: now,
                ..d
            })
            .collect())
    }

    /// The delivery's device, if it is still there, live and its
    /// participant's (a token registered again by someone else on the same
    /// phone must not get the first one's pushes); for a ring, only while
    /// the call still rings.
    async fn target_of(&self, d: &Claimed) -> AppResult<Result<Device, &'static str>> {
        let mut conn = self.pool().acquire().await?;
        let found = device::live(
            &mut conn,
            d.tenant_id,
            d.participant_id,
            d.device_id,
            crate::domain::now(),
        )
        .await?;
        let Some(device) = found else {
            return Ok(Err("device_gone"));
        };
        let message = &d.payload.0;
        if message.kind == PushKind::Call {
            let id = message
                .data
                .get("callId")
                .and_then(|id| id.parse::<Uuid>().ok());
            let ringing = match id {
                Some(id) => call::get(&mut conn, d.tenant_id, CallId(id), false)
                    .await?
                    .is_some_and(|c| c.status.is_ringing()),
                None => false,
            };
            if !ringing {
                return Ok(Err("call_over"));
            }
        }
        Ok(Ok(device))
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

    /// Writes how a delivery went, if its claim still stands (a claim taken
    /// over after it went stale is the other's to write). Errors are
    /// logged: the claim then goes stale and is tried again.
    async fn record(&self, d: &Claimed, done: Done, took: Duration) {
        if let Err(err) = self.try_record(d, done, took).await {
            tracing::warn!(delivery = %d.id, error = %err, "recording a push's outcome failed");
        }
    }

    async fn try_record(&self, d: &Claimed, done: Done, took: Duration) -> AppResult<()> {
        use DeliveryState::{Dropped, Failed, Pending, Sent};
        let now = crate::domain::now();
        let latency = u32::try_from(took.as_millis()).unwrap_or(u32::MAX);
        let (state, status, error, next_at) = match done {
            Done::Dropped(why) => (Dropped, None, Some(why.to_owned()), now),
            Done::Tried(Outcome::Sent { status }) => (Sent, Some(status), None, now),
            Done::Tried(Outcome::BadToken { status, reason }) => {
                sqlx::query(
                    "DELETE FROM devices WHERE tenant_id = ? AND id = ? AND participant_id = ?",
                )
                .bind(d.tenant_id)
                .bind(d.device_id)
                .bind(d.participant_id)
                .execute(self.pool())
                .await?;
                tracing::info!(device = %d.device_id, %reason, "a push token is dead: device removed");
                (
                    Failed,
                    Some(status),
                    Some(format!("bad_token: {reason}")),
                    now,
                )
            }
            Done::Tried(Outcome::Failed { status, reason }) => (Failed, status, Some(reason), now),
            Done::Tried(Outcome::Retry {
                status,
                reason,
                retry_after,
            }) => {
                if d.attempts >= MAX_ATTEMPTS {
                    let why = format!("gave up after {} attempts: {reason}", d.attempts);
                    (Failed, status, Some(why), now)
                } else {
                    let wait = retry_after
                        .unwrap_or_else(|| backoff(d.attempts))
                        .max(backoff(0));
                    let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    (Pending, status, Some(reason), at)
                }
            }
        };
        // `pending` here is a retry.
        let outcome = match state {
            Pending => "retry",
            other => other.as_str(),
        };
        metrics::counter!("samvad_push_deliveries_total", "outcome" => outcome).increment(1);
        sqlx::query(
            "UPDATE push_deliveries SET state = ?, status_code = ?, error = ?, next_at = ?,
                 latency_ms = ?, sent_at = IF(? = 'sent', ?, sent_at), claimed_at = NULL,
                 updated_at = ?
             WHERE tenant_id = ? AND id = ? AND state = 'sending' AND claimed_at = ?",
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
        .bind(d.claimed_at)
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
