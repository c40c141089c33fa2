//! The SQL of conversation lists: a participant's own, with their unread
//! counts, and every conversation of a tenant for its admins.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder};

use super::{COLUMNS, Conversation, Filter, MEMBER_COLUMNS, Member};
use crate::{
    domain::{ConversationId, ParticipantId, TenantId},
    error::AppResult,
};

/// A row of a participant's conversation list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    #[sqlx(flatten)]
    pub conversation: Conversation,
    #[sqlx(flatten)]
    pub me: Member,
    pub unread: i64,
}

/// Unread messages of member `m` in conversation `c`: after their read
/// cursor and their clear point, not their own, not deleted, not hidden by
/// them. Derived every time; there is no counter to drift.
const UNREAD: &str = "(SELECT COUNT(*) FROM messages x
      WHERE x.tenant_id = m.tenant_id AND x.conversation_id = m.conversation_id
        AND x.seq > GREATEST(m.read_seq, m.cleared_seq)
        AND NOT (x.sender_id <=> m.participant_id) AND x.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.tenant_id = x.tenant_id
                        AND h.participant_id = m.participant_id AND h.message_id = x.id))";

/// A participant's conversations, by activity (newest first), after the
/// cursor `(activity_at, id)`. Hidden ones show again on a newer message.
pub async fn list_for(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    me: ParticipantId,
    filter: &Filter,
    after: Option<&(DateTime<Utc>, ConversationId)>,
    limit: u32,
) -> AppResult<Vec<ListRow>> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS}, {MEMBER_COLUMNS}, {UNREAD} AS unread
         FROM conversation_members m
         JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
         WHERE m.left_at IS NULL AND NOT (m.hidden AND c.last_seq <= m.cleared_seq) AND m.tenant_id = "
    ));
    query
        .push_bind(tenant)
        .push(" AND m.participant_id = ")
        .push_bind(me);
    push_filter(&mut query, filter);
    if let Some((at, id)) = after {
        query
            .push(" AND (c.activity_at < ")
            .push_bind(*at)
            .push(" OR (c.activity_at = ")
            .push_bind(*at)
            .push(" AND c.id < ")
            .push_bind(*id)
            .push("))");
    }
    if filter.unread_only {
        query.push(" HAVING unread > 0");
    }
    query
        .push(" ORDER BY c.activity_at DESC, c.id DESC LIMIT ")
        .push_bind(limit);
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// Every conversation of the tenant (oversight by its admins), by activity.
pub async fn list_all(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    filter: &Filter,
    after: Option<&(DateTime<Utc>, ConversationId)>,
    limit: u32,
) -> AppResult<Vec<Conversation>> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM conversations c WHERE c.tenant_id = "
    ));
    query.push_bind(tenant);
    push_filter(&mut query, filter);
    if let Some((at, id)) = after {
        query
            .push(" AND (c.activity_at < ")
            .push_bind(*at)
            .push(" OR (c.activity_at = ")
            .push_bind(*at)
            .push(" AND c.id < ")
            .push_bind(*id)
            .push("))");
    }
    query
        .push(" ORDER BY c.activity_at DESC, c.id DESC LIMIT ")
        .push_bind(limit);
    Ok(query.build_query_as().fetch_all(conn).await?)
}

fn push_filter(query: &mut QueryBuilder<'_, sqlx::MySql>, filter: &Filter) {
    if let Some(kind) = filter.kind {
        query.push(" AND c.type = ").push_bind(kind);
    }
    if let Some(context) = filter.context_type {
        query.push(" AND c.context_type = ").push_bind(context);
    }
    if let Some(context_id) = &filter.context_id {
        query
            .push(" AND c.context_id = ")
            .push_bind(context_id.clone());
    }
    if let Some(active) = filter.is_active {
        query.push(" AND c.is_active = ").push_bind(active);
    }
    if let Some(with) = filter.with {
        query
            .push(
                " AND EXISTS (SELECT 1 FROM conversation_members w WHERE w.tenant_id = c.tenant_id",
            )
            .push(" AND w.conversation_id = c.id AND w.left_at IS NULL AND w.participant_id = ")
            .push_bind(with)
            .push(")");
    }
}
