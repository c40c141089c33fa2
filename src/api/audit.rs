//! `/api/audit-log`: the tenant's audit log, newest first (admins).

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query};

use super::{PageOf, Reply, Tag, ok};
use crate::{
    auth::Caller,
    domain::{audit::Record, page_limit},
    state::AppState,
};

#[derive(Default)]
pub struct AuditApi;

/// One audit entry.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditEntryView {
    pub id: uuid::Uuid,
    pub actor_id: Option<uuid::Uuid>,
    /// `user`, `astrologer`, `admin`, `superadmin` or `operator` (CLI).
    pub actor_role: String,
    /// e.g. `auth.login`, `participant.block`, `policy.add`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<uuid::Uuid>,
    /// JSON details of the action, when it has any.
    pub detail: Option<serde_json::Value>,
    pub ip: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Record> for AuditEntryView {
    fn from(r: Record) -> Self {
        Self {
            id: r.id.0,
            actor_id: r.actor_id,
            actor_role: r.actor_role,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
            ip: r.ip,
            created_at: r.created_at,
        }
    }
}

#[OpenApi(prefix_path = "/api/audit-log", tag = "Tag::Audit")]
impl AuditApi {
    /// The tenant's audit log, newest first, optionally one action
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// e.g. `auth.login`.
        action: Query<Option<String>>,
        cursor: Query<Option<String>>,
        /// 1-100, default 20.
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<AuditEntryView>> {
        state.auth.authorize(&auth.0, "audit", "read").await?;
        let page = state
            .core
            .audit_log(
                auth.0.tenant()?,
                action.0.as_deref(),
                cursor.0.as_deref(),
                page_limit(limit.0),
            )
            .await?;
        ok(PageOf::from_page(page, AuditEntryView::from))
    }
}
