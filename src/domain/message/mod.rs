//! Messages: per-conversation `seq` numbers without gaps, idempotent sends
//! (`clientMsgId`), replies, forwards, edits, deletion for oneself or for
//! everyone, reactions, full-text search. Types and SQL here; use cases in
//! `send` (sending, forwarding; the input's checks in `input`), `change` (edit, delete, react) and `read`
//! (pages, catch-up, search).

mod change;
mod input;
mod read;
mod send;
pub mod writer;

pub use input::{OWN_CLIENT_ID, SendInput};
pub use read::{CatchUp, MessagePage, MessageSet, Paging};
pub use send::SystemMessage;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder};

use super::{ConversationId, MessageId, ParticipantId, TenantId, conversation::Member};
use crate::error::{AppError, AppResult};

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Text,
    Image,
    Audio,
    Video,
    File,
    System,
    Call,
}

super::text_enum!(MessageType {
    Text => "text",
    Image => "image",
    Audio => "audio",
    Video => "video",
    File => "file",
    System => "system",
    Call => "call",
});

impl MessageType {
    /// Types a client may send (system and call messages come from Samvad).
    pub fn parse_sendable(raw: &str) -> AppResult<Self> {
        match Self::from_str_opt(raw.trim()) {
            Some(kind @ (Self::Text | Self::Image | Self::Audio | Self::Video | Self::File)) => {
                Ok(kind)
            }
            Some(_) => Err(AppError::validation(
                "system and call messages are written by Samvad, not sent",
            )),
            None => Err(AppError::validation(
                "type must be text, image, audio, video or file",
            )),
        }
    }

    /// Media types carry files (or, from old clients, a media URL).
    pub fn has_media(self) -> bool {
        matches!(self, Self::Image | Self::Audio | Self::Video | Self::File)
    }

    /// The message type a file's kind makes.
    pub fn of_file(kind: super::file::FileKind) -> Self {
        match kind {
            super::file::FileKind::Image => Self::Image,
            super::file::FileKind::Audio => Self::Audio,
            super::file::FileKind::Video => Self::Video,
            super::file::FileKind::File => Self::File,
        }
    }
}

/// A message row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Message {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub seq: u64,
    pub id: MessageId,
    pub sender_id: Option<ParticipantId>,
    #[sqlx(rename = "type")]
    pub kind: MessageType,
    pub content: Option<String>,
    pub media_url: Option<String>,
    /// JSON text of type-specific details.
    pub metadata: Option<String>,
    pub reply_to_id: Option<MessageId>,
    pub forwarded_from_id: Option<MessageId>,
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The files it carries, with signed links (filled by the core for
    /// media messages).
    #[sqlx(skip)]
    pub attachments: Vec<super::file::Attachment>,
}

impl Message {
    /// A short text for conversation lists and notifications.
    pub fn preview(&self) -> String {
        if self.deleted_at.is_some() {
            return "Message deleted".into();
        }
        let text = self
            .content
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        match (self.kind, text) {
            (_, Some(text)) => text.chars().take(200).collect(),
            (MessageType::Image, None) => "Photo".into(),
            (MessageType::Audio, None) => {
                match self.attachments.first().and_then(|a| a.file.duration_ms) {
                    Some(ms) => format!("Voice message ({}:{:02})", ms / 60_000, ms / 1000 % 60),
                    None => "Voice message".into(),
                }
            }
            (MessageType::Video, None) => "Video".into(),
            (MessageType::File, None) if !self.attachments.is_empty() => {
                format!("File: {}", self.attachments[0].file.name)
            }
            (MessageType::File, None) => "File".into(),
            (MessageType::Call, None) => "Call".into(),
            _ => String::new(),
        }
    }
}

/// One participant's reaction to a message.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reaction {
    pub message_id: MessageId,
    pub participant_id: ParticipantId,
    pub emoji: String,
}

/// The columns of a message row, from the table aliased `x`.
const COLUMNS: &str = "x.tenant_id, x.conversation_id, x.seq, x.id, x.sender_id, x.type, x.content, x.media_url, \
    x.metadata, x.reply_to_id, x.forwarded_from_id, x.client_msg_id, x.created_at, x.edited_at, x.deleted_at";

pub async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: MessageId,
) -> AppResult<Option<Message>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM messages x WHERE x.tenant_id = ? AND x.id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The given messages of a tenant, as they are now, in seq order.
///
/// Looked up by id, forced: for the order MariaDB would otherwise walk the
/// primary key through the tenant's messages (measured: 256 asked, 77,000
/// rows read, more as the table grows).
pub async fn get_many(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    ids: &[MessageId],
) -> AppResult<Vec<Message>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM messages x FORCE INDEX (uq_messages_id) WHERE x.tenant_id = "
    ));
    query.push_bind(tenant).push(" AND x.id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(") ORDER BY x.conversation_id, x.seq");
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// A page of a conversation as `viewer` sees it: after their clear point,
/// without the messages they hid. `after` pages forward (oldest first, for
/// resync); otherwise newest first, before `before`.
pub async fn page(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
    viewer: Option<&Member>,
    before: Option<u64>,
    after: Option<u64>,
    limit: u32,
) -> AppResult<Vec<Message>> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM messages x WHERE x.tenant_id = "
    ));
    query
        .push_bind(tenant)
        .push(" AND x.conversation_id = ")
        .push_bind(conversation);
    if let Some(me) = viewer {
        query.push(" AND x.seq > ").push_bind(me.cleared_seq);
        query
            .push(" AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.tenant_id = x.tenant_id AND h.message_id = x.id")
            .push(" AND h.participant_id = ")
            .push_bind(me.participant_id)
            .push(")");
    }
    if let Some(before) = before {
        query.push(" AND x.seq < ").push_bind(before);
    }
    match after {
        Some(after) => {
            query
                .push(" AND x.seq > ")
                .push_bind(after)
                .push(" ORDER BY x.seq ASC");
        }
        None => {
            query.push(" ORDER BY x.seq DESC");
        }
    }
    query.push(" LIMIT ").push_bind(limit);
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// The reactions to the given messages.
pub async fn reactions_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    ids: &[MessageId],
) -> AppResult<Vec<Reaction>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::new(
        // utf8mb4_bin (emoji compare by bytes) reads back as VARBINARY: convert.
        "SELECT message_id, participant_id, CONVERT(emoji USING utf8mb4) AS emoji \
         FROM message_reactions WHERE tenant_id = ",
    );
    query.push_bind(tenant).push(" AND message_id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(") ORDER BY created_at");
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// Unread messages of a member (see `conversation::UNREAD`).
pub async fn unread(conn: &mut MySqlConnection, tenant: TenantId, me: &Member) -> AppResult<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages x
         WHERE x.tenant_id = ? AND x.conversation_id = ? AND x.seq > ?
           AND NOT (x.sender_id <=> ?) AND x.deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.tenant_id = x.tenant_id
                           AND h.participant_id = ? AND h.message_id = x.id)",
    )
    .bind(tenant)
    .bind(me.conversation_id)
    .bind(me.read_seq.max(me.cleared_seq))
    .bind(me.participant_id)
    .bind(me.participant_id)
    .fetch_one(conn)
    .await?;
    Ok(count.max(0) as u64)
}

/// A participant's unread messages over all their conversations, counted as
/// [`unread`] counts one (the app's badge).
pub async fn total_unread(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
) -> AppResult<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM conversation_members m
         JOIN messages x ON x.tenant_id = m.tenant_id AND x.conversation_id = m.conversation_id
              AND x.seq > GREATEST(m.read_seq, m.cleared_seq)
         WHERE m.tenant_id = ? AND m.participant_id = ? AND m.left_at IS NULL
           AND NOT (x.sender_id <=> m.participant_id) AND x.deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.tenant_id = x.tenant_id
                           AND h.participant_id = m.participant_id AND h.message_id = x.id)",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_one(conn)
    .await?;
    Ok(count.max(0) as u64)
}

/// The highest seq among the given messages of a conversation (0 if none).
pub async fn max_seq_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
    ids: &[MessageId],
) -> AppResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut query = QueryBuilder::new(
        "SELECT CAST(COALESCE(MAX(seq), 0) AS UNSIGNED) FROM messages WHERE tenant_id = ",
    );
    query
        .push_bind(tenant)
        .push(" AND conversation_id = ")
        .push_bind(conversation)
        .push(" AND id IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
    Ok(query.build_query_scalar().fetch_one(conn).await?)
}

/// Full-text search over the conversations `me` is a member of (or one of
/// them), newest first. Words of three letters or more use the FULLTEXT
/// index; shorter queries fall back to a substring match.
pub async fn search(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    me: ParticipantId,
    conversation: Option<ConversationId>,
    text: &str,
    limit: u32,
) -> AppResult<Vec<Message>> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut query = QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM messages x
         JOIN conversation_members m ON m.tenant_id = x.tenant_id AND m.conversation_id = x.conversation_id
              AND m.participant_id = "
    ));
    query.push_bind(me);
    query
        .push(" AND m.left_at IS NULL WHERE x.tenant_id = ")
        .push_bind(tenant);
    query.push(" AND x.deleted_at IS NULL AND x.seq > m.cleared_seq");
    query
        .push(" AND NOT EXISTS (SELECT 1 FROM message_hides h WHERE h.tenant_id = x.tenant_id AND h.message_id = x.id")
        .push(" AND h.participant_id = ")
        .push_bind(me)
        .push(")");
    if let Some(conversation) = conversation {
        query
            .push(" AND x.conversation_id = ")
            .push_bind(conversation);
    }
    if words.iter().any(|w| w.chars().count() >= 3) {
        let boolean: Vec<String> = words
            .iter()
            .filter(|w| w.chars().count() >= 3)
            .map(|w| format!("+{w}*"))
            .collect();
        query
            .push(" AND MATCH(x.content) AGAINST (")
            .push_bind(boolean.join(" "))
            .push(" IN BOOLEAN MODE)");
    } else {
        let like = format!("%{}%", super::like_escape(text.trim()));
        query.push(" AND x.content LIKE ").push_bind(like);
    }
    query
        .push(" ORDER BY x.created_at DESC, x.id DESC LIMIT ")
        .push_bind(limit);
    Ok(query.build_query_as().fetch_all(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_send_only_content_types() {
        assert_eq!(
            MessageType::parse_sendable("image").unwrap(),
            MessageType::Image
        );
        assert!(MessageType::parse_sendable("system").is_err());
        assert!(MessageType::parse_sendable("call").is_err());
        assert_eq!(
            MessageType::parse_sendable("video").unwrap(),
            MessageType::Video
        );
        assert!(MessageType::parse_sendable("sticker").is_err());
    }
}
