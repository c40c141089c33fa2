//! Conversations: direct ones (admin and astrologer, user and astrologer),
//! unique per pair and context, and groups. Members carry their receipt
//! cursors, mute and delete-for-me. Types and SQL here (the members' SQL
//! in `members`, the lists' in `list`); use cases in `service`, `read`,
//! `groups` and `own`.

mod groups;
mod list;
mod members;
mod own;
mod read;
mod service;

pub use list::{ListRow, list_all, list_for};
pub use members::{
    Behind, add_member, advance_cursors, co_members, member, member_ids, members_changing,
    members_of, memberships_of,
};

pub use groups::ConversationChanges;
pub use read::ConversationView;
pub use service::NewGroup;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::MySqlConnection;

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
