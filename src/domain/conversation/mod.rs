//! Conversations: direct ones (admin and astrologer, user and astrologer),
//! unique per pair and context, and groups. Members carry their receipt
//! cursors, mute and delete-for-me. Types and SQL here; use cases in
//! `service`.

mod service;

pub(crate) use service::membership_on;
pub use service::{ConversationChanges, ConversationView, NewGroup};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{MySqlConnection, QueryBuilder};

use super::{ConversationId, MessageId, ParticipantId, TenantId, participant::ParticipantType};
use crate::error::{AppError, AppResult, is_unique_violation};

/// The seeds' `conversationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversationType {
    AdminAstrologer,
    UserAstrologer,
    Group,
}

super::text_enum!(ConversationType {
    AdminAstrologer => "admin_astrologer",
    UserAstrologer => "user_astrologer",
    Group => "group",
});

impl ConversationType {
    /// The direct type two participant kinds make, if they make one.
    pub fn direct(a: ParticipantType, b: ParticipantType) -> Option<Self> {
        use ParticipantType::*;
        match (a, b) {
            (Admin, Astrologer) | (Astrologer, Admin) => Some(Self::AdminAstrologer),
            (User, Astrologer) | (Astrologer, User) => Some(Self::UserAstrologer),
            _ => None,
        }
    }

    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::from_str_opt(raw.trim()).ok_or_else(|| {
            AppError::validation("type must be admin_astrologer, user_astrologer or group")
        })
    }
}

/// What a conversation is about (seed 004's `contextType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContextType {
    Consultation,
    ServiceRequest,
    Support,
    #[default]
    General,
}

super::text_enum!(ContextType {
    Consultation => "consultation",
    ServiceRequest => "service_request",
    Support => "support",
    General => "general",
});

impl ContextType {
    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::from_str_opt(raw.trim()).ok_or_else(|| {
            AppError::validation(
                "contextType must be consultation, service_request, support or general",
            )
        })
    }
}

/// A member's role in a group (direct conversations have two members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberRole {
    Owner,
    Admin,
    Member,
}

super::text_enum!(MemberRole { Owner => "owner", Admin => "admin", Member => "member" });

impl MemberRole {
    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::from_str_opt(raw.trim())
            .ok_or_else(|| AppError::validation("role must be owner, admin or member"))
    }

    /// Owners and admins manage a group's members.
    pub fn manages(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// A conversation row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Conversation {
    pub tenant_id: TenantId,
    pub id: ConversationId,
    #[sqlx(rename = "type")]
    pub kind: ConversationType,
    pub context_type: ContextType,
    pub context_id: Option<String>,
    pub title: Option<String>,
    pub is_active: bool,
    pub created_by: Option<ParticipantId>,
    pub last_seq: u64,
    pub last_message_id: Option<MessageId>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub last_message_sender: Option<ParticipantId>,
    pub last_message_type: Option<String>,
    pub last_message_preview: Option<String>,
    pub activity_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A member's state in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub conversation_id: ConversationId,
    pub participant_id: ParticipantId,
    pub role: MemberRole,
    pub delivered_seq: u64,
    pub read_seq: u64,
    pub muted: bool,
    pub cleared_seq: u64,
    pub hidden: bool,
    pub joined_at: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
}

impl Member {
    pub fn is_current(&self) -> bool {
        self.left_at.is_none()
    }
}

/// A member with what a client shows of them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberInfo {
    #[sqlx(flatten)]
    pub member: Member,
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: ParticipantType,
    pub avatar_url: Option<String>,
}

/// The other side of a direct conversation, and its context.
#[derive(Debug, Clone)]
pub struct DirectKey {
    pub other: ParticipantId,
    pub context_type: ContextType,
    pub context_id: Option<String>,
}

impl DirectKey {
    /// A direct conversation with `other` in the general context.
    pub fn general(other: ParticipantId) -> Self {
        Self {
            other,
            context_type: ContextType::General,
            context_id: None,
        }
    }
}

/// Filters of a conversation list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub kind: Option<ConversationType>,
    pub context_type: Option<ContextType>,
    pub context_id: Option<String>,
    pub is_active: Option<bool>,
    /// Only conversations with this participant.
    pub with: Option<ParticipantId>,
    /// Only conversations with unread messages.
    pub unread_only: bool,
}

/// What makes a direct conversation unique: the pair, whatever the order,
/// and the context.
pub fn pair_key(
    a: ParticipantId,
    b: ParticipantId,
    context: ContextType,
    context_id: Option<&str>,
) -> Vec<u8> {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut hash = Sha256::new();
    hash.update(low.0.as_bytes());
    hash.update(high.0.as_bytes());
    hash.update(context.as_str().as_bytes());
    hash.update([0]);
    hash.update(context_id.unwrap_or_default().as_bytes());
    hash.finalize().to_vec()
}

const COLUMNS: &str = "c.tenant_id, c.id, c.type, c.context_type, c.context_id, c.title, c.is_active, c.created_by, \
    c.last_seq, c.last_message_id, c.last_message_at, c.last_message_sender, c.last_message_type, \
    c.last_message_preview, c.activity_at, c.created_at, c.updated_at";

const MEMBER_COLUMNS: &str = "m.conversation_id, m.participant_id, m.role, m.delivered_seq, m.read_seq, m.muted, \
    m.cleared_seq, m.hidden, m.joined_at, m.left_at";

/// Inserts a conversation; `false` when a direct one with the same pair
/// key won a race (the caller then reads it).
pub async fn insert(
    conn: &mut MySqlConnection,
    c: &Conversation,
    pair: Option<&[u8]>,
) -> AppResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO conversations (tenant_id, id, type, context_type, context_id, title, pair_key, is_active,
                                    created_by, last_seq, activity_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
    )
    .bind(c.tenant_id)
    .bind(c.id)
    .bind(c.kind)
    .bind(c.context_type)
    .bind(&c.context_id)
    .bind(&c.title)
    .bind(pair)
    .bind(c.is_active)
    .bind(c.created_by)
    .bind(c.activity_at)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(err) if is_unique_violation(&err, "uq_conversations_pair") => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// Adds a member, or brings back one who left.
pub async fn add_member(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
    participant: ParticipantId,
    role: MemberRole,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO conversation_members (tenant_id, conversation_id, participant_id, role, joined_at)
         VALUES (?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE left_at = NULL, role = IF(left_at IS NULL, role, VALUES(role)),
                                 joined_at = IF(left_at IS NULL, joined_at, VALUES(joined_at))",
    )
    .bind(tenant)
    .bind(conversation)
    .bind(participant)
    .bind(role)
    .bind(super::now())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ConversationId,
) -> AppResult<Option<Conversation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversations c WHERE c.tenant_id = ? AND c.id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn get_by_pair(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    pair: &[u8],
) -> AppResult<Option<Conversation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM conversations c WHERE c.tenant_id = ? AND c.pair_key = ?"
    ))
    .bind(tenant)
    .bind(pair)
    .fetch_optional(conn)
    .await?)
}

/// One member's state (current or past).
pub async fn member(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
    participant: ParticipantId,
) -> AppResult<Option<Member>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM conversation_members m
         WHERE m.tenant_id = ? AND m.conversation_id = ? AND m.participant_id = ?"
    ))
    .bind(tenant)
    .bind(conversation)
    .bind(participant)
    .fetch_optional(conn)
    .await?)
}

/// The current members of the given conversations, with names.
pub async fn members_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversations: &[ConversationId],
) -> AppResult<Vec<MemberInfo>> {
    if conversations.is_empty() {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::new(format!(
        "SELECT {MEMBER_COLUMNS}, p.name, p.type, p.avatar_url
         FROM conversation_members m
         JOIN participants p ON p.tenant_id = m.tenant_id AND p.id = m.participant_id
         WHERE m.left_at IS NULL AND m.tenant_id = "
    ));
    query.push_bind(tenant).push(" AND m.conversation_id IN (");
    let mut list = query.separated(", ");
    for id in conversations {
        list.push_bind(*id);
    }
    query.push(") ORDER BY m.joined_at, m.participant_id");
    Ok(query.build_query_as().fetch_all(conn).await?)
}

/// The ids of a conversation's current members.
pub async fn member_ids(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
) -> AppResult<Vec<ParticipantId>> {
    Ok(sqlx::query_scalar(
        "SELECT participant_id FROM conversation_members
         WHERE tenant_id = ? AND conversation_id = ? AND left_at IS NULL",
    )
    .bind(tenant)
    .bind(conversation)
    .fetch_all(conn)
    .await?)
}

/// The conversations `participant` is a current member of.
pub async fn conversation_ids_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
) -> AppResult<Vec<ConversationId>> {
    Ok(sqlx::query_scalar(
        "SELECT conversation_id FROM conversation_members
         WHERE tenant_id = ? AND participant_id = ? AND left_at IS NULL",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_all(conn)
    .await?)
}

/// Everyone sharing a current conversation with `participant` (among
/// `among`, when given), each once.
pub async fn co_members(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    among: Option<&[ParticipantId]>,
) -> AppResult<Vec<ParticipantId>> {
    if among.is_some_and(<[ParticipantId]>::is_empty) {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::new(
        "SELECT DISTINCT o.participant_id FROM conversation_members m
         JOIN conversation_members o ON o.tenant_id = m.tenant_id AND o.conversation_id = m.conversation_id
         WHERE o.left_at IS NULL AND m.left_at IS NULL AND m.tenant_id = ",
    );
    query
        .push_bind(tenant)
        .push(" AND m.participant_id = ")
        .push_bind(participant)
        .push(" AND o.participant_id <> ")
        .push_bind(participant);
    if let Some(among) = among {
        query.push(" AND o.participant_id IN (");
        let mut list = query.separated(", ");
        for id in among {
            list.push_bind(*id);
        }
        query.push(")");
    }
    Ok(query.build_query_scalar().fetch_all(conn).await?)
}

/// A membership whose conversation has messages past its delivered cursor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Behind {
    #[sqlx(flatten)]
    pub member: Member,
    pub last_seq: u64,
}

/// `participant`'s memberships with undelivered messages, most recently
/// active first.
pub async fn behind(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
    limit: u32,
) -> AppResult<Vec<Behind>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS}, c.last_seq FROM conversation_members m
         JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
         WHERE m.tenant_id = ? AND m.participant_id = ? AND m.left_at IS NULL
           AND c.last_seq > m.delivered_seq
         ORDER BY c.activity_at DESC LIMIT ?"
    ))
    .bind(tenant)
    .bind(participant)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

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

/// Moves a member's cursors forward (never back, never past the last
/// message); reading implies delivery. Returns the member after.
pub async fn advance_cursors(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
    participant: ParticipantId,
    delivered: u64,
    read: u64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE conversation_members m
         JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
         SET m.read_seq = GREATEST(m.read_seq, LEAST(?, c.last_seq)),
             m.delivered_seq = GREATEST(m.delivered_seq, LEAST(GREATEST(?, ?), c.last_seq))
         WHERE m.tenant_id = ? AND m.conversation_id = ? AND m.participant_id = ?",
    )
    .bind(read)
    .bind(delivered)
    .bind(read)
    .bind(tenant)
    .bind(conversation)
    .bind(participant)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_key_ignores_order_but_not_context() {
        let (a, b) = (ParticipantId::new(), ParticipantId::new());
        let general = pair_key(a, b, ContextType::General, None);
        assert_eq!(general, pair_key(b, a, ContextType::General, None));
        assert_ne!(general, pair_key(a, b, ContextType::Support, None));
        assert_ne!(general, pair_key(a, b, ContextType::General, Some("c-1")));
        assert_ne!(
            pair_key(a, b, ContextType::General, Some("1")),
            pair_key(a, b, ContextType::General, Some("2"))
        );
    }

    #[test]
    fn only_admin_astrologer_and_user_astrologer_pairs_are_direct() {
        use ParticipantType::*;
        assert_eq!(
            ConversationType::direct(Astrologer, Admin),
            Some(ConversationType::AdminAstrologer)
        );
        assert_eq!(
            ConversationType::direct(User, Astrologer),
            Some(ConversationType::UserAstrologer)
        );
        assert_eq!(ConversationType::direct(User, User), None);
        assert_eq!(ConversationType::direct(Admin, User), None);
    }
}
