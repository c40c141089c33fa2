//! The audit log: who did what, when, from where. Written inside the same
//! transaction as the change it describes, so the two never disagree.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder};
use uuid::Uuid;

use super::{Actor, AuditId, Core, Page, Role, TenantId, cursor};
use crate::error::AppResult;

/// An entry to record; build it with [`Entry::new`] or [`Entry::by`].
#[derive(Debug, Clone)]
pub struct Entry {
    tenant: Option<TenantId>,
    actor_id: Option<Uuid>,
    actor_role: &'static str,
    action: &'static str,
    target_type: Option<&'static str>,
    target_id: Option<Uuid>,
    detail: Option<serde_json::Value>,
    ip: Option<String>,
}

impl Entry {
    /// An action by `actor` (`None`: the operator, through the CLI).
    pub fn new(actor: Option<&Actor>, action: &'static str) -> Self {
        match actor {
            Some(actor) => {
                Self::by(actor.tenant, Some(actor.id), actor.role, action).ip(actor.ip.clone())
            }
            None => Self {
                tenant: None,
                actor_id: None,
                actor_role: "operator",
                action,
                target_type: None,
                target_id: None,
                detail: None,
                ip: None,
            },
        }
    }

    /// An action by an explicit subject (before an [`Actor`] exists: login).
    pub fn by(
        tenant: Option<TenantId>,
        actor_id: Option<Uuid>,
        role: Role,
        action: &'static str,
    ) -> Self {
        Self {
            tenant,
            actor_id,
            actor_role: role.as_str(),
            action,
            target_type: None,
            target_id: None,
            detail: None,
            ip: None,
        }
    }

    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    pub fn target(mut self, kind: &'static str, id: Uuid) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }
}

/// A recorded entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Record {
    pub id: AuditId,
    pub tenant_id: Option<TenantId>,
    pub actor_id: Option<Uuid>,
    pub actor_role: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn record(conn: &mut MySqlConnection, entry: Entry) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor_id, actor_role, action, target_type, target_id,
                                detail, ip, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(AuditId::new())
    .bind(entry.tenant)
    .bind(entry.actor_id)
    .bind(entry.actor_role)
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(entry.target_id)
    .bind(entry.detail.map(|d| d.to_string()))
    .bind(entry.ip)
    .bind(super::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// What part of a tenant's log to read; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One action, e.g. `auth.login`.
    pub action: Option<String>,
    /// One actor (participant or API key id).
    pub actor: Option<Uuid>,
    /// Entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// Entries of one tenant matching `filter`, newest first.
pub async fn list(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    filter: &Filter,
    before: Option<AuditId>,
    limit: u32,
) -> AppResult<Vec<Record>> {
    let mut query = QueryBuilder::new(
        "SELECT id, tenant_id, actor_id, actor_role, action, target_type, target_id, detail, ip,
                created_at
         FROM audit_log WHERE tenant_id = ",
    );
    query.push_bind(tenant);
    if let Some(action) = &filter.action {
        query.push(" AND action = ").push_bind(action.clone());
    }
    if let Some(actor) = filter.actor {
        query.push(" AND actor_id = ").push_bind(actor);
    }
    if let Some(from) = filter.from {
        query.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" AND created_at < ").push_bind(to);
    }
    if let Some(before) = before {
        query.push(" AND id < ").push_bind(before);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    Ok(query.build_query_as().fetch_all(conn).await?)
}

impl Core {
    /// The tenant's audit log, newest first, optionally of one action.
    pub async fn audit_log(
        &self,
        tenant: TenantId,
        action: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Record>> {
        let filter = Filter {
            action: action.map(str::to_owned),
            ..Filter::default()
        };
        self.audit_entries(tenant, &filter, cursor, limit).await
    }

    /// The tenant's audit log matching `filter`, newest first.
    pub async fn audit_entries(
        &self,
        tenant: TenantId,
        filter: &Filter,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Record>> {
        let before: Option<AuditId> = cursor.map(cursor::decode).transpose()?;
        let rows = list(
            &mut *self.pool().acquire().await?,
            tenant,
            filter,
            before,
            limit + 1,
        )
        .await?;
        Ok(cursor::page(rows, limit, |r| r.id))
    }
}
