//! The calls' upkeep on [`Core`]: timing out calls that rang too long (for
//! the sweeper in `workers::call_sweeper`), ending the live calls of a
//! participant whose last connection dropped, and writing the entries in
//! their conversations that ended calls still owe.

use chrono::{DateTime, Utc};

use super::{CallAction, live_of, next_deadline, overdue};
use crate::{
    domain::{CallId, Core, ParticipantId, TenantId},
    error::{AppError, AppResult},
};

impl Core {
    /// Ends the live calls of a participant whose last connection dropped
    /// and did not come back within the grace period.
    pub async fn participant_gone(&self, tenant: TenantId, participant: ParticipantId) {
        let live = match live_of(
            &mut *match self.pool().acquire().await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(error = %err, "call cleanup: no database connection");
                    return;
                }
            },
            tenant,
            participant,
        )
        .await
        {
            Ok(live) => live,
            Err(err) => {
                tracing::warn!(error = %err, "call cleanup: reading live calls failed");
                return;
            }
        };
        for id in live {
            if let Err(err) = self
                .apply(tenant, id, CallAction::Drop, Some(participant), None)
                .await
            {
                tracing::warn!(error = %err, call = %id, "call cleanup failed");
            }
        }
    }

    /// Times out every ringing call whose deadline passed; returns how many.
    pub async fn sweep_calls(&self) -> AppResult<usize> {
        let now = crate::domain::now();
        let due = overdue(&mut *self.pool().acquire().await?, now, 200).await?;
        let mut done = 0;
        for (tenant, id) in due {
            match self
                .apply(tenant, id, CallAction::Timeout, None, None)
                .await
            {
                Ok(_) => done += 1,
                // Answered or ended meanwhile (maybe on another node).
                Err(AppError::Conflict { .. }) | Err(AppError::NotFound(_)) => {
                    self.clear_deadline(tenant, id).await?;
                }
                Err(err) => return Err(err),
            }
        }
        self.write_owed_entries(now).await?;
        Ok(done)
    }

    /// The nearest stored ring deadline of any tenant: when the sweeper
    /// (`workers::call_sweeper`) should next call [`Core::sweep_calls`].
    pub async fn next_call_deadline(&self) -> AppResult<Option<DateTime<Utc>>> {
        next_deadline(&mut *self.pool().acquire().await?).await
    }

    /// Resolves when a call starts ringing, so the sweeper wakes early.
    pub async fn call_started(&self) {
        self.calls_wakeup.notified().await;
    }

    async fn clear_deadline(&self, tenant: TenantId, id: CallId) -> AppResult<()> {
        sqlx::query("UPDATE calls SET ring_deadline = NULL WHERE tenant_id = ? AND id = ? AND status NOT IN ('initiated', 'ringing')")
            .bind(tenant)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
