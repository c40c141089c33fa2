//! Sending deliveries. A batch is claimed in a short transaction
//! (`sending`, one more attempt counted, the claim's time kept as its
//! token), posted with no lock held, and each outcome written only while
//! the claim stands: `sent` on a 2xx; otherwise pending again after the
//! next wait of the retry schedule (with up to a tenth more at random, so
//! retries spread), and `failed` once the schedule has run out. A 410
//! turns the endpoint off at once; an endpoint failing for
//! [`DISABLE_AFTER`] is turned off, and its tenant's admins are emailed.
//! A delivery left `sending` by a crash is tried again after [`STALE`]
//! with the same `webhook-id`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{Connection, MySqlConnection, QueryBuilder};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{
    delivery::{
        messages::webhook_disabled_email,
        webhook::{Attempt, Outgoing},
    },
    domain::{Core, TenantId, audit, participant::ParticipantType},
    error::AppResult,
};

/// A claim older than this was lost (a crash): the delivery is retried.
/// Well over the longest batch (100 posts, 16 at a time, 10 s each).
const STALE: Duration = Duration::from_secs(300);
/// Posts in flight at once.
const IN_FLIGHT: usize = 16;
/// An endpoint failing this long is turned off.
pub const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(3);

#[derive(sqlx::FromRow)]
struct Claimed {
    tenant_id: TenantId,
    id: Uuid,
    endpoint_id: Uuid,
    attempts: u16,
    body: String,
    url: String,
    sealed_secret: Vec<u8>,
    enabled: bool,
}

impl Core {
    /// Sends up to `limit` due deliveries; returns how many were claimed.
    pub async fn send_webhooks(&self, limit: u32) -> AppResult<usize> {
        let now = crate::domain::now();
        let claimed = self.claim_webhooks(limit, now).await?;
        let count = claimed.len();
        let mut sends = JoinSet::new();
        for delivery in claimed {
            if sends.len() >= IN_FLIGHT
                && let Some(Ok((d, attempt, took))) = sends.join_next().await
            {
                self.record_webhook(&d, attempt, took, now).await;
            }
            let core = self.clone();
            sends.spawn(async move {
                let started = std::time::Instant::now();
                let attempt = core.post(&delivery).await;
                (delivery, attempt, started.elapsed())
            });
        }
        while let Some(joined) = sends.join_next().await {
            if let Ok((d, attempt, took)) = joined {
                self.record_webhook(&d, attempt, took, now).await;
            }
        }
        Ok(count)
    }

    /// Claims due deliveries (and those a crash left claimed).
    async fn claim_webhooks(&self, limit: u32, now: DateTime<Utc>) -> AppResult<Vec<Claimed>> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let stale = now - chrono::Duration::from_std(STALE).unwrap_or_default();
        let ids: Vec<(TenantId, Uuid)> = sqlx::query_as(
            "SELECT tenant_id, id FROM webhook_deliveries
             WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claimed_at < ?)
             ORDER BY next_at LIMIT ? FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(stale)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement each for the whole batch: claim, then read back.
        let keys = |query: &mut QueryBuilder<'_, sqlx::MySql>| {
            query.push(" (d.tenant_id, d.id) IN ");
            crate::domain::lists::push_pairs(query, ids.iter().copied());
        };
        let mut claim = QueryBuilder::new(
            "UPDATE webhook_deliveries d SET d.state = 'sending', d.attempts = d.attempts + 1, d.claimed_at = ",
        );
        claim
            .push_bind(now)
            .push(", d.updated_at = ")
            .push_bind(now)
            .push(" WHERE");
        keys(&mut claim);
        claim.build().execute(&mut *tx).await?;
        let mut read = QueryBuilder::new(
            "SELECT d.tenant_id, d.id, d.endpoint_id, d.attempts, d.body, e.url, e.sealed_secret, e.enabled
             FROM webhook_deliveries d JOIN webhook_endpoints e
               ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id WHERE",
        );
        keys(&mut read);
        let claimed: Vec<Claimed> = read.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// One attempt: signed and posted (nothing when the endpoint is off).
    async fn post(&self, d: &Claimed) -> Attempt {
        if !d.enabled {
            return Attempt {
                status: None,
                body: None,
                error: Some("endpoint disabled".into()),
            };
        }
        let Some(secret) = self.open_secret(d.tenant_id, d.endpoint_id, &d.sealed_secret) else {
            tracing::error!(endpoint = %d.endpoint_id, "a webhook secret does not open");
            return Attempt {
                status: None,
                body: None,
                error: Some("the endpoint's secret is unreadable".into()),
            };
        };
        let id = super::webhook_id(d.id);
        let out = Outgoing {
            url: &d.url,
            id: &id,
            secret: &secret,
            body: &d.body,
        };
        self.delivery().webhooks().send(&out).await
    }

    /// Writes how an attempt went, if its claim still stands. Errors are
    /// logged: the claim then goes stale and is tried again.
    async fn record_webhook(
        &self,
        d: &Claimed,
        attempt: Attempt,
        took: Duration,
        claim: DateTime<Utc>,
    ) {
        if let Err(err) = self.try_record_webhook(d, &attempt, took, claim).await {
            tracing::warn!(delivery = %d.id, error = %err, "recording a webhook's outcome failed");
        }
    }

    async fn try_record_webhook(
        &self,
        d: &Claimed,
        attempt: &Attempt,
        took: Duration,
        claim: DateTime<Utc>,
    ) -> AppResult<()> {
        let now = crate::domain::now();
        let schedule = &self.config().webhook_retries;
        let gone = attempt.status == Some(410);
        let (state, next_at, error) = if attempt.succeeded() {
            ("sent", now, None)
        } else if !d.enabled || gone {
            ("failed", now, attempt.error.clone())
        } else if let Some(wait) = schedule.get(usize::from(d.attempts) - 1) {
            let wait = wait.mul_f64(1.0 + rand::random::<f64>() * 0.1);
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            ("pending", at, attempt.error.clone())
        } else {
            let why = format!(
                "gave up after {} attempts{}",
                d.attempts,
                attempt
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
            ("failed", now, Some(why))
        };
        let outcome = if state == "pending" { "retry" } else { state };
        metrics::counter!("samvad_webhook_attempts_total", "outcome" => outcome).increment(1);
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let written = sqlx::query(
            "UPDATE webhook_deliveries SET state = ?, status_code = ?, response_body = ?, error = ?,
                 next_at = ?, latency_ms = ?, sent_at = IF(? = 'sent', ?, sent_at),
                 claimed_at = NULL, updated_at = ?
             WHERE tenant_id = ? AND id = ? AND state = 'sending' AND claimed_at = ?",
        )
        .bind(state)
        .bind(attempt.status)
        .bind(&attempt.body)
        .bind(error.map(|e| e.chars().take(255).collect::<String>()))
        .bind(next_at)
        .bind(u32::try_from(took.as_millis()).unwrap_or(u32::MAX))
        .bind(state)
        .bind(now)
        .bind(now)
        .bind(d.tenant_id)
        .bind(d.id)
        .bind(claim)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written == 0 || !d.enabled {
            return Ok(());
        }
        let off = if attempt.succeeded() {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL
                 WHERE tenant_id = ? AND id = ? AND failing_since IS NOT NULL",
            )
            .bind(d.tenant_id)
            .bind(d.endpoint_id)
            .execute(&mut *tx)
            .await?;
            None
        } else if gone {
            turn_off(&mut tx, d, "the receiver answered 410 Gone").await?
        } else {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?)
                 WHERE tenant_id = ? AND id = ?",
            )
            .bind(now)
            .bind(d.tenant_id)
            .bind(d.endpoint_id)
            .execute(&mut *tx)
            .await?;
            let (since,): (Option<DateTime<Utc>>,) = sqlx::query_as(
                "SELECT failing_since FROM webhook_endpoints WHERE tenant_id = ? AND id = ?",
            )
            .bind(d.tenant_id)
            .bind(d.endpoint_id)
            .fetch_one(&mut *tx)
            .await?;
            if since.is_some_and(|s| now - s >= DISABLE_AFTER) {
                turn_off(&mut tx, d, "failing for 3 days").await?
            } else {
                None
            }
        };
        tx.commit().await?;
        if let Some(reason) = off {
            self.tell_admins(d, reason).await;
        }
        Ok(())
    }

    /// Emails the tenant's admins that an endpoint was turned off.
    async fn tell_admins(&self, d: &Claimed, reason: &str) {
        let told = async {
            let (name,): (String,) = sqlx::query_as("SELECT name FROM tenants WHERE id = ?")
                .bind(d.tenant_id)
                .fetch_one(self.pool())
                .await?;
            let message = webhook_disabled_email(&name, &d.url, reason)?;
            for to in self.admin_emails(d.tenant_id).await? {
                self.delivery().email(&to, message.clone()).await?;
            }
            AppResult::Ok(())
        };
        if let Err(err) = told.await {
            tracing::warn!(error = %err, "telling the admins of a disabled webhook failed");
        }
    }

    /// The emails of the tenant's admins who can be reached.
    async fn admin_emails(&self, tenant: TenantId) -> AppResult<Vec<crate::domain::values::Email>> {
        let raw: Vec<(String,)> = sqlx::query_as(
            "SELECT email FROM participants
             WHERE tenant_id = ? AND type = ? AND email IS NOT NULL AND NOT blocked",
        )
        .bind(tenant)
        .bind(ParticipantType::Admin)
        .fetch_all(self.pool())
        .await?;
        Ok(raw
            .into_iter()
            .filter_map(|(e,)| crate::domain::values::Email::parse(&e).ok())
            .collect())
    }
}

/// Turns the claimed delivery's endpoint off (audited); returns the
/// reason when it was on.
async fn turn_off(
    tx: &mut MySqlConnection,
    d: &Claimed,
    reason: &'static str,
) -> AppResult<Option<&'static str>> {
    if !super::disable(tx, d.tenant_id, d.endpoint_id, Some(reason)).await? {
        return Ok(None);
    }
    tracing::warn!(endpoint = %d.endpoint_id, reason, "a webhook endpoint was turned off");
    audit::record(
        tx,
        audit::Entry::new(None, "webhook.disabled")
            .tenant(d.tenant_id)
            .target("webhook", d.endpoint_id)
            .detail(serde_json::json!({ "reason": reason })),
    )
    .await?;
    Ok(Some(reason))
}
