//! The in-app inbox: what happened to a participant while they were not
//! looking (messages while not connected, collapsed one per conversation;
//! missed calls; chat requests received and answered). Types and SQL here;
//! `service` has the inbox's use cases, `from_log` makes notifications
//! from the durable log (driven by `workers::notifications`),
//! `preferences` what a participant wants pushed and when not.

mod batch;
pub mod broadcast;
mod digest;
mod from_log;
pub mod preferences;
mod service;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{MySqlConnection, QueryBuilder};
use uuid::Uuid;

use super::{ConversationId, ParticipantId, TenantId, lists::push_list};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// Messages in a conversation (collapsed while unread).
    Message,
    MissedCall,
    /// A chat request received.
    ChatRequest,
    /// One's chat request accepted or declined.
    ChatRequestAnswered,
    /// A consultation one takes part in was recorded or changed.
    Consultation,
    /// An announcement from the tenant's admins.
    Broadcast,
}

super::text_enum!(NotificationKind {
    Message => "message",
    MissedCall => "missed_call",
    ChatRequest => "chat_request",
    ChatRequestAnswered => "chat_request_answered",
    Consultation => "consultation",
    Broadcast => "broadcast",
});

/// A notification row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Notification {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub participant_id: ParticipantId,
    pub kind: NotificationKind,
    pub conversation_id: Option<ConversationId>,
    pub subject_id: Uuid,
    pub seq: Option<u64>,
    pub title: String,
    pub body: String,
    pub count: u32,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const COLUMNS: &str = "tenant_id, id, participant_id, kind, conversation_id, subject_id, seq, \
    title, body, count, read_at, created_at, updated_at";

/// A notification to make (or to collapse into the unread one of its
/// conversation, for messages).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub tenant_id: TenantId,
    pub participant_id: ParticipantId,
    pub kind: NotificationKind,
    pub conversation_id: Option<ConversationId>,
    pub subject_id: Uuid,
    pub seq: Option<u64>,
    pub title: String,
    pub body: String,
    pub at: DateTime<Utc>,
}

/// The current members of the given conversations of a tenant who hear of
/// their messages (those who have not muted them); a conversation with
/// none is absent.
pub async fn recipients_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversations: &[ConversationId],
) -> sqlx::Result<Vec<(ConversationId, ParticipantId)>> {
    if conversations.is_empty() {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::new(
        "SELECT conversation_id, participant_id FROM conversation_members
         WHERE left_at IS NULL AND NOT muted AND tenant_id = ",
    );
    query.push_bind(tenant).push(" AND conversation_id IN ");
    push_list(&mut query, conversations.iter().copied());
    query.build_query_as().fetch_all(conn).await
}

/// [`unread`] of several participants of a tenant at once; one with none
/// is absent.
pub async fn unread_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participants: &[ParticipantId],
) -> sqlx::Result<Vec<(ParticipantId, u64)>> {
    if participants.is_empty() {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::new(
        "SELECT participant_id, COUNT(*) FROM notifications
         WHERE read_at IS NULL AND tenant_id = ",
    );
    query.push_bind(tenant).push(" AND participant_id IN ");
    push_list(&mut query, participants.iter().copied());
    query.push(" GROUP BY participant_id");
    let counts: Vec<(ParticipantId, i64)> = query.build_query_as().fetch_all(conn).await?;
    Ok(counts
        .into_iter()
        .map(|(p, n)| (p, n.max(0) as u64))
        .collect())
}

/// One page of a participant's notifications, newest first (by when they
/// last changed), after the `(updated_at, id)` key given.
pub async fn page(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    unread_only: bool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u32,
) -> sqlx::Result<Vec<Notification>> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM notifications WHERE tenant_id = "
    ));
    query
        .push_bind(tenant)
        .push(" AND participant_id = ")
        .push_bind(participant);
    if unread_only {
        query.push(" AND read_at IS NULL");
    }
    if let Some((at, id)) = after {
        query
            .push(" AND (updated_at < ")
            .push_bind(at)
            .push(" OR (updated_at = ")
            .push_bind(at)
            .push(" AND id < ")
            .push_bind(id)
            .push("))");
    }
    query
        .push(" ORDER BY updated_at DESC, id DESC LIMIT ")
        .push_bind(limit);
    query.build_query_as().fetch_all(conn).await
}

/// How many of a participant's notifications are unread.
pub async fn unread(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
) -> sqlx::Result<u64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM notifications
         WHERE tenant_id = ? AND participant_id = ? AND read_at IS NULL",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_one(conn)
    .await?;
    Ok(n.max(0) as u64)
}

/// Marks one (`Some(id)`) or all of a participant's notifications read;
/// returns how many changed. A read message notification stops collecting
/// its conversation's messages (the next makes a new one).
pub async fn mark_read(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    id: Option<Uuid>,
    at: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let mut query = QueryBuilder::new("UPDATE notifications SET read_at = COALESCE(read_at, ");
    query
        .push_bind(at)
        .push("), collapse_key = NULL WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND participant_id = ")
        .push_bind(participant);
    match id {
        Some(id) => query.push(" AND id = ").push_bind(id),
        None => query.push(" AND read_at IS NULL"),
    };
    Ok(query.build().execute(conn).await?.rows_affected())
}

/// A participant's notification by id.
pub async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    id: Uuid,
) -> sqlx::Result<Option<Notification>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE tenant_id = ? AND participant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(participant)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Deletes a participant's notification; whether there was one.
pub async fn delete(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM notifications WHERE tenant_id = ? AND participant_id = ? AND id = ?",
    )
    .bind(tenant)
    .bind(participant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes notifications older than their tenant's retention
/// (`notificationRetentionDays`, default 90), a bounded batch at a time;
/// returns how many went.
pub async fn purge_expired(conn: &mut MySqlConnection, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE n FROM notifications n
         LEFT JOIN tenant_settings s ON s.tenant_id = n.tenant_id
         WHERE n.created_at < ? - INTERVAL
             COALESCE(CAST(JSON_VALUE(s.settings, '$.notificationRetentionDays') AS UNSIGNED), 90) DAY",
    )
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Minutes a participant's messages stay unread before an email digest
/// tells them (at most one per that many minutes); 0 sends none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DigestDelays {
    pub users: u32,
    pub astrologers: u32,
    pub admins: u32,
}

impl Default for DigestDelays {
    fn default() -> Self {
        Self {
            users: 0,
            astrologers: 30,
            admins: 30,
        }
    }
}

impl DigestDelays {
    /// The delay for a kind of participant (`None`: no digests).
    pub fn of(&self, kind: super::participant::ParticipantType) -> Option<u32> {
        use super::participant::ParticipantType as P;
        let minutes = match kind {
            P::User => self.users,
            P::Astrologer => self.astrologers,
            P::Admin => self.admins,
        };
        (minutes > 0).then_some(minutes)
    }
}
