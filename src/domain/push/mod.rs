//! Push notifications to phones, driven from the database so that a crash
//! loses none and a restart sends none twice:
//!
//! 1. The notifications worker, in the transaction that reads the log,
//!    writes a `pushes` row for each notification it makes and for each
//!    incoming call (and its end): [`enqueue`]. A notification's push is
//!    due after the grace (`SAMVAD_PUSH_GRACE_MS`); more messages of the
//!    conversation meanwhile fold into it.
//! 2. The push worker expands each due push (`plan`): skipped, with the
//!    reason, for a participant online again, muted, in quiet hours or
//!    asking for none; else one `push_deliveries` row per device (unique
//!    per push and device: the delivered-once marker), with what the phone
//!    shows fixed.
//! 3. It sends the deliveries (`send`): claimed, sent, marked; retried
//!    with backoff (or the provider's Retry-After) up to a bound; a token
//!    the provider calls dead deletes its device.
//!
//! `credentials` keeps each tenant's FCM and APNs keys.

mod cancel;
mod credentials;
mod plan;
mod send;

pub use credentials::{ApnsInfo, ApnsInput, FcmInfo, PushStatus};

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder};
use uuid::Uuid;

use super::{ParticipantId, TenantId, device::Platform};

/// What a push row is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFor {
    /// An inbox entry (a message, a missed call, a broadcast, ...).
    Notification,
    /// An incoming call: ring the phone.
    Call,
    /// The call was answered or ended: stop ringing.
    CallCancel,
}

super::text_enum!(PushFor {
    Notification => "notification",
    Call => "call",
    CallCancel => "call_cancel",
});

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sending,
    Sent,
    Failed,
    /// Not sent and never will be: the device went, the call ended first.
    Dropped,
}

super::text_enum!(DeliveryState {
    Pending => "pending",
    Sending => "sending",
    Sent => "sent",
    Failed => "failed",
    Dropped => "dropped",
});

/// A push to make: for a notification (`subject` its id) or a call.
#[derive(Debug, Clone, Copy)]
pub struct NewPush {
    pub tenant_id: TenantId,
    pub participant_id: ParticipantId,
    pub kind: PushFor,
    pub subject: Uuid,
    pub due_at: DateTime<Utc>,
}

/// Writes `push` in the caller's transaction, or folds it into the same
/// subject's push still waiting for that participant.
pub async fn enqueue(conn: &mut MySqlConnection, push: &NewPush) -> sqlx::Result<()> {
    enqueue_many(conn, std::slice::from_ref(push)).await
}

/// [`enqueue`] for many, in one statement (per thousand).
pub async fn enqueue_many(conn: &mut MySqlConnection, pushes: &[NewPush]) -> sqlx::Result<()> {
    let now = super::now();
    for chunk in pushes.chunks(1_000) {
        let mut query = QueryBuilder::new(
            "INSERT INTO pushes (tenant_id, id, participant_id, kind, notification_id, call_id,
                 pending_key, state, reason, due_at, created_at) ",
        );
        query.push_values(chunk, |mut row, push| {
            let (notification, call, prefix) = match push.kind {
                PushFor::Notification => (Some(push.subject), None, "n"),
                PushFor::Call => (None, Some(push.subject), "c"),
                PushFor::CallCancel => (None, Some(push.subject), "x"),
            };
            row.push_bind(push.tenant_id)
                .push_bind(Uuid::now_v7())
                .push_bind(push.participant_id)
                .push_bind(push.kind)
                .push_bind(notification)
                .push_bind(call)
                .push_bind(format!("{prefix}:{}", push.subject.simple()))
                .push("'pending', NULL")
                .push_bind(push.due_at)
                .push_bind(now);
        });
        query.push(" ON DUPLICATE KEY UPDATE pending_key = pending_key");
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Whether a push of `kind` was made for `call` to `participant` (a ring,
/// so its end should stop it; a cancel, so none is needed again).
pub async fn made_for_call(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    call: Uuid,
    kind: PushFor,
) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM pushes WHERE tenant_id = ? AND call_id = ? AND participant_id = ?
         AND kind = ? LIMIT 1",
    )
    .bind(tenant)
    .bind(call)
    .bind(participant)
    .bind(kind)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// One delivery, as the console's log shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub participant_id: ParticipantId,
    pub device_id: Uuid,
    pub provider: Platform,
    pub kind: crate::delivery::push::PushKind,
    pub state: DeliveryState,
    pub attempts: u16,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub next_at: DateTime<Utc>,
}

/// The tenant's newest deliveries (optionally in one state), newest first.
async fn recent(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    state: Option<DeliveryState>,
    limit: u32,
) -> sqlx::Result<Vec<Delivery>> {
    let mut query = QueryBuilder::new(
        "SELECT id, participant_id, device_id, provider, kind, state, attempts, status_code,
             error, latency_ms, created_at, sent_at, next_at
         FROM push_deliveries WHERE tenant_id = ",
    );
    query.push_bind(tenant);
    if let Some(state) = state {
        query.push(" AND state = ").push_bind(state);
    }
    query
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(limit);
    query.build_query_as().fetch_all(conn).await
}

impl super::Core {
    /// The actor's tenant's newest deliveries.
    pub async fn push_deliveries(
        &self,
        actor: &super::Actor,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> crate::error::AppResult<Vec<Delivery>> {
        let tenant = actor.tenant()?;
        Ok(recent(&mut *self.pool().acquire().await?, tenant, state, limit).await?)
    }

    /// Deletes finished pushes and deliveries made before `before`.
    pub async fn purge_pushes(&self, before: DateTime<Utc>) -> crate::error::AppResult<u64> {
        Ok(purge(&mut *self.pool().acquire().await?, before).await?)
    }
}

/// Deletes finished pushes and deliveries older than `before`, in batches
/// of [`PURGE_BATCH`] (no long locks) until none is left; returns how many
/// rows went.
async fn purge(conn: &mut MySqlConnection, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let mut total = 0;
    for sql in [
        "DELETE FROM pushes WHERE created_at < ? AND state <> 'pending' LIMIT 5000",
        "DELETE FROM push_deliveries WHERE created_at < ?
         AND state IN ('sent', 'failed', 'dropped') LIMIT 5000",
    ] {
        loop {
            let gone = sqlx::query(sql)
                .bind(before)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            total += gone;
            if gone < PURGE_BATCH {
                break;
            }
        }
    }
    Ok(total)
}

/// Rows deleted per statement by [`purge`].
const PURGE_BATCH: u64 = 5000;
