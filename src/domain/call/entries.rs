//! A call's entry in its conversation ("Missed voice call", "Video call ·
//! 3:12"): owed from the end's transaction (`calls.entry_due_at`), written
//! after it commits through the message writer under the client id
//! `samvad:call:<id>`, and written by the sweeper when that failed, never
//! twice (the writer dedupes by client id).

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;

use super::{Call, EndReason, get};
use crate::{
    domain::{
        CallId, Core, TenantId,
        message::{MessageType, OWN_CLIENT_ID, SystemMessage},
    },
    error::{AppError, AppResult},
};

/// How long a call's entry may be owed before the sweeper writes it (the
/// end writes it at once; this keeps the two from racing, which would be
/// harmless, as the client id makes the second write a resend).
const ENTRY_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

impl Core {
    /// The call's entry in its conversation, through the messaging core,
    /// under the client id `samvad:call:<id>` (so a second try writes
    /// nothing); then the call owes it no more. Left owed when the writer
    /// refuses it (overloaded, the database away): the sweeper writes it
    /// later ([`Core::sweep_calls`]).
    pub(super) async fn write_call_entry(&self, call: &Call) {
        let Some(conversation) = call.conversation_id else {
            return;
        };
        let entry = SystemMessage {
            kind: MessageType::Call,
            sender: Some(call.caller_id),
            client_id: Some(format!("{OWN_CLIENT_ID}call:{}", call.id)),
            content: call.summary(),
            metadata: serde_json::json!({
                "callId": call.id,
                "callType": call.call_type.as_str(),
                "status": call.status.as_str(),
                "endReason": call.end_reason.map(EndReason::as_str),
                "duration": call.duration_secs,
                "callerId": call.caller_id,
            }),
        };
        match self
            .post_system_message(call.tenant_id, conversation, entry)
            .await
        {
            // Written, or the conversation is gone: nothing more to do.
            Ok(_) | Err(AppError::NotFound(_)) => {
                let settled = async {
                    entry_settled(&mut *self.pool().acquire().await?, call.tenant_id, call.id).await
                };
                if let Err(err) = settled.await {
                    tracing::debug!(error = %err, call = %call.id, "the call's entry is written; noting it failed");
                }
            }
            Err(err) => tracing::warn!(
                error = %err,
                call = %call.id,
                "writing the call's entry failed; the call sweeper tries again"
            ),
        }
    }

    /// Writes the entries that ended calls have owed their conversations
    /// for over [`ENTRY_GRACE`] (their end wrote them after its commit, and
    /// the writer refused: overloaded, the database away; or the node
    /// died in between). A call whose entry is still refused stays owed.
    pub(super) async fn write_owed_entries(&self, now: DateTime<Utc>) -> AppResult<()> {
        let before = now - ENTRY_GRACE;
        let owed = entries_owed(&mut *self.pool().acquire().await?, before, 100).await?;
        for (tenant, id) in owed {
            let call = get(&mut *self.pool().acquire().await?, tenant, id, false).await?;
            if let Some(call) = call {
                self.write_call_entry(&call).await;
            }
        }
        Ok(())
    }
}

/// Notes that an ended call owes its conversation an entry (in the end's
/// transaction).
pub(super) async fn owe_entry(conn: &mut MySqlConnection, c: &Call) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE calls SET entry_due_at = ? WHERE tenant_id = ? AND id = ?")
        .bind(c.ended_at)
        .bind(c.tenant_id)
        .bind(c.id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Notes that a call's entry is written (or has nowhere to go).
async fn entry_settled(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: CallId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE calls SET entry_due_at = NULL WHERE tenant_id = ? AND id = ?")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Calls of every tenant that have owed their entry since before `before`,
/// oldest first (the sweeper's).
async fn entries_owed(
    conn: &mut MySqlConnection,
    before: DateTime<Utc>,
    limit: u32,
) -> AppResult<Vec<(TenantId, CallId)>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id FROM calls WHERE entry_due_at < ? ORDER BY entry_due_at LIMIT ?",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
