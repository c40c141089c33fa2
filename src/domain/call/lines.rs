//! The `call_lines` table: one row per participant in a live call, so that
//! "busy" is exact under concurrency (the primary key refuses a second line).

use sqlx::MySqlConnection;

use super::Call;
use crate::{
    domain::{CallId, TenantId},
    error::AppResult,
};

/// Takes the line of each party for `call`; false when one of them is
/// already in a live call (nothing is taken then).
pub async fn take_lines(conn: &mut MySqlConnection, call: &Call) -> AppResult<bool> {
    let done = sqlx::query(
        "INSERT IGNORE INTO call_lines (tenant_id, participant_id, call_id) VALUES (?, ?, ?), (?, ?, ?)",
    )
    .bind(call.tenant_id)
    .bind(call.caller_id)
    .bind(call.id)
    .bind(call.tenant_id)
    .bind(call.callee_id)
    .bind(call.id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 2 {
        return Ok(true);
    }
    free_lines(conn, call.tenant_id, call.id).await?;
    Ok(false)
}

/// Frees the lines a call held.
pub async fn free_lines(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    call: CallId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM call_lines WHERE tenant_id = ? AND call_id = ?")
        .bind(tenant)
        .bind(call)
        .execute(conn)
        .await?;
    Ok(())
}
