//! The log: every committed message, edit and deletion, chat request and
//! call outcome at a global, strictly increasing position in MySQL, so a
//! worker (push, webhooks) or another node can read everything after a
//! stored checkpoint and lose nothing across a crash. The in-process event
//! bus stays the low-latency path; the log is the durable one.
//!
//! Reading after a position is safe. Positions are not an auto-increment
//! (taken at insert, not at commit, so a reader could pass a lower position
//! that commits later: the outbox gap). [`append`] takes them from the one
//! row of `log_head`, which stays locked until the writer's transaction
//! ends: the next writer's positions come only after that commit (or after
//! a rollback, which gives them back). Positions become visible in order
//! and without gaps. Call [`append`] as the last statement before the
//! commit, so the row is held for as short a time as possible.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder};
use uuid::Uuid;

use super::{ConversationId, TenantId};
use crate::error::AppResult;

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    MessageCreated,
    MessageUpdated,
    MessageDeleted,
    ChatRequestCreated,
    ChatRequestAnswered,
    /// A call placed (ringing, or waiting for an offline callee's phone).
    CallStarted,
    /// A call picked up.
    CallAnswered,
    CallEnded,
    /// A consultation recorded or its status changed.
    ConsultationUpdated,
    /// An announcement from the tenant's admins.
    BroadcastSent,
    /// A conversation opened or a group created (the subject is the
    /// conversation).
    ConversationCreated,
    /// A participant (the subject) added to a group.
    MemberAdded,
    /// A participant (the subject) removed from a group, or gone from it.
    MemberRemoved,
    /// A participant (the subject) created: by an admin, by signing up.
    ParticipantCreated,
}

super::text_enum!(LogKind {
    MessageCreated => "message.created",
    MessageUpdated => "message.updated",
    MessageDeleted => "message.deleted",
    ChatRequestCreated => "chat_request.created",
    ChatRequestAnswered => "chat_request.answered",
    CallStarted => "call.started",
    CallAnswered => "call.answered",
    CallEnded => "call.ended",
    ConsultationUpdated => "consultation.updated",
    BroadcastSent => "broadcast.sent",
    ConversationCreated => "conversation.created",
    MemberAdded => "member.added",
    MemberRemoved => "member.removed",
    ParticipantCreated => "participant.created",
});

/// An entry to append: what happened, to which object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub tenant_id: TenantId,
    pub kind: LogKind,
    pub conversation_id: Option<ConversationId>,
    /// The message, chat request or call.
    pub subject_id: Uuid,
    /// The message's seq, for message entries.
    pub seq: Option<u64>,
    pub created_at: DateTime<Utc>,
}

impl NewEntry {
    /// An entry about `subject`, now, outside any conversation.
    pub fn new(tenant: TenantId, kind: LogKind, subject: impl Into<Uuid>) -> Self {
        Self {
            tenant_id: tenant,
            kind,
            conversation_id: None,
            subject_id: subject.into(),
            seq: None,
            created_at: super::now(),
        }
    }

    /// The same entry, in a conversation.
    pub fn in_conversation(mut self, conversation: Option<ConversationId>) -> Self {
        self.conversation_id = conversation;
        self
    }

    /// An entry about a message: its conversation and seq.
    pub fn of_message(kind: LogKind, message: &super::message::Message) -> Self {
        Self {
            conversation_id: Some(message.conversation_id),
            seq: Some(message.seq),
            created_at: message
                .edited_at
                .or(message.deleted_at)
                .unwrap_or(message.created_at),
            ..Self::new(message.tenant_id, kind, message.id)
        }
    }
}

/// A committed entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub position: u64,
    pub tenant_id: TenantId,
    pub kind: LogKind,
    pub conversation_id: Option<ConversationId>,
    pub subject_id: Uuid,
    pub seq: Option<u64>,
    pub created_at: DateTime<Utc>,
}

/// Appends entries in the caller's transaction, at the next positions (in
/// the order given), and returns the first position. Holds `log_head` until
/// the caller's transaction ends: call it last, just before the commit.
pub async fn append(conn: &mut MySqlConnection, entries: &[NewEntry]) -> sqlx::Result<u64> {
    if entries.is_empty() {
        return Ok(0);
    }
    let count = entries.len() as u64;
    let head =
        sqlx::query("UPDATE log_head SET position = LAST_INSERT_ID(position + ?) WHERE id = 1")
            .bind(count)
            .execute(&mut *conn)
            .await?
            .last_insert_id();
    let first = head + 1 - count;
    let mut position = first;
    // A few rows to a statement, as the messages' (`lists::ROWS_PER_INSERT`).
    for chunk in entries.chunks(crate::domain::lists::ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO event_log (position, tenant_id, kind, conversation_id, subject_id, seq, created_at) ",
        );
        insert.push_values(chunk, |mut row, entry| {
            row.push_bind(position)
                .push_bind(entry.tenant_id)
                .push_bind(entry.kind.as_str())
                .push_bind(entry.conversation_id)
                .push_bind(entry.subject_id)
                .push_bind(entry.seq)
                .push_bind(entry.created_at);
            position += 1;
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(first)
}

/// Up to `limit` committed entries after `position`, in order. Safe to call
/// while writers are committing: nothing with a lower position can appear
/// later.
pub async fn read_after(
    conn: &mut MySqlConnection,
    position: u64,
    limit: u32,
) -> AppResult<Vec<Entry>> {
    Ok(sqlx::query_as(
        "SELECT position, tenant_id, kind, conversation_id, subject_id, seq, created_at
         FROM event_log WHERE position > ? ORDER BY position LIMIT ?",
    )
    .bind(position)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The position of the last committed entry.
pub async fn head(conn: &mut MySqlConnection) -> AppResult<u64> {
    // A plain read sees the head as last committed: everything up to it is
    // committed and visible to the next statement.
    Ok(
        sqlx::query_scalar("SELECT position FROM log_head WHERE id = 1")
            .fetch_one(conn)
            .await?,
    )
}

/// How many message changes [`super::Core::message_changes`] returns at most.
const CHANGES_PAGE: u32 = 200;

impl super::Core {
    /// Up to `limit` log entries after `position`, for the workers (and
    /// other nodes) that read the log from a checkpoint.
    pub async fn log_after(&self, position: u64, limit: u32) -> AppResult<Vec<Entry>> {
        read_after(&mut *self.pool().acquire().await?, position, limit).await
    }

    /// The log position everything committed so far is at or before: where
    /// a reader that wants only what comes next starts.
    pub async fn log_head(&self) -> AppResult<u64> {
        head(&mut *self.pool().acquire().await?).await
    }

    /// The messages of one conversation created, edited or deleted after
    /// log position `after`, as they are now, and the position read up to:
    /// how a view served by one node follows what happens on every node.
    /// The caller has checked that the reader may see the conversation.
    pub async fn message_changes(
        &self,
        tenant: TenantId,
        conversation: ConversationId,
        after: u64,
    ) -> AppResult<(Vec<super::message::Message>, u64)> {
        let mut conn = self.pool().acquire().await?;
        let head = head(&mut conn).await?;
        if head <= after {
            return Ok((Vec::new(), after));
        }
        let changed: Vec<(u64, Uuid)> = sqlx::query_as(
            "SELECT position, subject_id FROM event_log
             WHERE tenant_id = ? AND position > ? AND position <= ? AND conversation_id = ?
               AND kind IN (?, ?, ?)
             ORDER BY position LIMIT ?",
        )
        .bind(tenant)
        .bind(after)
        .bind(head)
        .bind(conversation)
        .bind(LogKind::MessageCreated.as_str())
        .bind(LogKind::MessageUpdated.as_str())
        .bind(LogKind::MessageDeleted.as_str())
        .bind(CHANGES_PAGE)
        .fetch_all(&mut *conn)
        .await?;
        // A full page may stop short of the head: go on from its last entry.
        let upto = match changed.last() {
            Some((position, _)) if changed.len() == CHANGES_PAGE as usize => *position,
            _ => head,
        };
        let mut ids: Vec<super::MessageId> = changed
            .iter()
            .map(|(_, id)| super::MessageId(*id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let messages = super::message::get_many(&mut conn, tenant, &ids).await?;
        Ok((messages, upto))
    }
}
