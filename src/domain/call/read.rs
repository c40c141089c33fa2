//! Reading calls on [`Core`]: one call (its parties, admins and API keys
//! see it) and the call history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Call, CallStatus, CallType, get};
use crate::{
    domain::{Actor, CallId, Core, Page, ParticipantId, cursor, page_limit},
    error::{AppError, AppResult},
};

/// Filter of the call history.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// Calls with this participant as a party.
    pub participant: Option<ParticipantId>,
    pub call_type: Option<CallType>,
    pub status: Option<CallStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct HistoryKey(DateTime<Utc>, uuid::Uuid);

pub(super) fn not_found() -> AppError {
    AppError::NotFound("call")
}

impl Core {
    /// A call the actor may see: its parties, and the tenant's admins (and
    /// API keys). Anyone else gets a 404.
    pub async fn call(&self, actor: &Actor, id: CallId) -> AppResult<Call> {
        let tenant = actor.tenant()?;
        let call = get(&mut *self.pool().acquire().await?, tenant, id, false)
            .await?
            .ok_or_else(not_found)?;
        let party = actor.participant().is_ok_and(|(_, me)| call.has_party(me));
        if !party && !actor.sees_everyone() {
            return Err(not_found());
        }
        Ok(call)
    }

    /// The call history the actor may see, newest first.
    pub async fn call_history(&self, actor: &Actor, filter: CallFilter) -> AppResult<Page<Call>> {
        let tenant = actor.tenant()?;
        let limit = page_limit(filter.limit);
        let mut sql = format!("SELECT {} FROM calls WHERE tenant_id = ?", super::COLUMNS);
        let mine = if actor.sees_everyone() {
            None
        } else {
            sql.push_str(" AND (caller_id = ? OR callee_id = ?)");
            Some(actor.participant()?.1)
        };
        if filter.participant.is_some() {
            sql.push_str(" AND (caller_id = ? OR callee_id = ?)");
        }
        if filter.call_type.is_some() {
            sql.push_str(" AND call_type = ?");
        }
        if filter.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        if filter.from.is_some() {
            sql.push_str(" AND initiated_at >= ?");
        }
        if filter.to.is_some() {
            sql.push_str(" AND initiated_at < ?");
        }
        let after = filter
            .cursor
            .as_deref()
            .map(cursor::decode::<HistoryKey>)
            .transpose()?;
        if after.is_some() {
            sql.push_str(" AND (initiated_at, id) < (?, ?)");
        }
        sql.push_str(" ORDER BY initiated_at DESC, id DESC LIMIT ?");
        let mut query = sqlx::query_as::<_, Call>(&sql).bind(tenant);
        if let Some(me) = mine {
            query = query.bind(me).bind(me);
        }
        if let Some(p) = filter.participant {
            query = query.bind(p).bind(p);
        }
        if let Some(t) = filter.call_type {
            query = query.bind(t);
        }
        if let Some(s) = filter.status {
            query = query.bind(s);
        }
        // As DATETIME: a TIMESTAMP parameter cannot hold years past 2038.
        if let Some(from) = filter.from {
            query = query.bind(from.naive_utc());
        }
        if let Some(to) = filter.to {
            query = query.bind(to.naive_utc());
        }
        if let Some(HistoryKey(at, id)) = after {
            query = query.bind(at).bind(id);
        }
        let rows = query
            .bind(limit + 1)
            .fetch_all(&mut *self.pool().acquire().await?)
            .await?;
        Ok(cursor::page(rows, limit, |c| {
            HistoryKey(c.initiated_at, c.id.0)
        }))
    }
}
