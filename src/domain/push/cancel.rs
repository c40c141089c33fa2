//! Stopping the ringing: a call answered or ended cancels the pushes that
//! rang it (`plan_cancel`, called by `plan`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;
use uuid::Uuid;

use super::plan::{Due, Plan};
use crate::{
    delivery::push::{PushKind, PushMessage},
    domain::{CallId, Core, call, device},
    error::AppResult,
};

impl Core {
    /// The devices that were rung for the call: those still waiting are
    /// not rung after all; the others are told to stop.
    pub(super) async fn plan_cancel(
        &self,
        conn: &mut MySqlConnection,
        push: &Due,
        now: DateTime<Utc>,
    ) -> AppResult<Plan> {
        let (tenant, who) = (push.tenant_id, push.participant_id);
        let Some(id) = push.call_id else {
            return Ok(Plan::Skip("call_over"));
        };
        let rung = "SELECT id FROM pushes WHERE tenant_id = ? AND call_id = ?
                    AND participant_id = ? AND kind = 'call'";
        sqlx::query(&format!(
            "UPDATE push_deliveries SET state = 'dropped', error = 'call_over', updated_at = ?
             WHERE tenant_id = ? AND state = 'pending' AND push_id IN ({rung})"
        ))
        .bind(now)
        .bind(tenant)
        .bind(tenant)
        .bind(id)
        .bind(who)
        .execute(&mut *conn)
        .await?;
        let reached: Vec<Uuid> = sqlx::query_scalar(&format!(
            "SELECT device_id FROM push_deliveries
             WHERE tenant_id = ? AND state IN ('sending', 'sent') AND push_id IN ({rung})"
        ))
        .bind(tenant)
        .bind(tenant)
        .bind(id)
        .bind(who)
        .fetch_all(&mut *conn)
        .await?;
        if reached.is_empty() {
            return Ok(Plan::Skip("not_rung"));
        }
        let status = call::get(conn, tenant, CallId(id), false)
            .await?
            .map_or("ended", |c| c.status.as_str());
        let message = PushMessage {
            kind: PushKind::CallCancel,
            title: String::new(),
            body: String::new(),
            badge: None,
            thread: "calls".into(),
            collapse_id: format!("call-{}", id.simple()),
            data: BTreeMap::from([
                ("type".to_owned(), "call_cancel".to_owned()),
                ("callId".to_owned(), id.to_string()),
                ("status".to_owned(), status.to_owned()),
            ]),
            ttl_secs: 60,
        };
        let devices = device::of_participant(conn, tenant, who, now).await?;
        Ok(Plan::Send(
            devices
                .into_iter()
                .filter(|d| reached.contains(&d.id))
                .map(|d| (d, message.clone()))
                .collect(),
        ))
    }
}
