//! Conversations on the wire: a conversation as the caller sees it, its
//! members and its newest message. Both spellings the seeds read are
//! present (`type`/`conversationType`, `members`/`participants`).

use poem_openapi::Object;

use crate::domain::conversation::{ConversationView, MemberInfo};

/// A member as a conversation shows them.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct MemberView {
    pub id: uuid::Uuid,
    /// `user`, `astrologer` or `admin`.
    #[oai(rename = "type")]
    pub kind: String,
    pub name: String,
    pub avatar: Option<String>,
    /// `owner`, `admin` or `member` (groups).
    pub role: String,
    /// Everything up to this seq reached them.
    pub delivered_seq: u64,
    /// Everything up to this seq was read by them.
    pub read_seq: u64,
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

impl From<&MemberInfo> for MemberView {
    fn from(m: &MemberInfo) -> Self {
        Self {
            id: m.member.participant_id.0,
            kind: m.kind.as_str().to_owned(),
            name: m.name.clone(),
            avatar: m.avatar_url.clone(),
            role: m.member.role.as_str().to_owned(),
            delivered_seq: m.member.delivered_seq,
            read_seq: m.member.read_seq,
            joined_at: m.member.joined_at,
        }
    }
}

/// The newest message of a conversation, for lists.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LastMessageView {
    pub id: uuid::Uuid,
    pub content: String,
    pub sender_id: Option<uuid::Uuid>,
    pub message_type: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

/// A conversation as the caller sees it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConversationDto {
    pub id: uuid::Uuid,
    /// `admin_astrologer`, `user_astrologer` or `group`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Same as `type` (seed 004's name).
    pub conversation_type: String,
    /// `consultation`, `service_request`, `support` or `general`.
    pub context_type: String,
    pub context_id: Option<String>,
    /// Groups only.
    pub title: Option<String>,
    /// `false` once closed by an admin.
    pub is_active: bool,
    /// The seq of the newest message.
    pub last_seq: u64,
    pub last_message: Option<LastMessageView>,
    /// Messages the caller has not read.
    pub unread_count: u64,
    pub muted: bool,
    /// The caller's role; absent when an admin looks in without being a member.
    pub role: Option<String>,
    pub delivered_seq: Option<u64>,
    pub read_seq: Option<u64>,
    pub members: Vec<MemberView>,
    /// Same as `members` (Backend1's name).
    pub participants: Vec<MemberView>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<ConversationView> for ConversationDto {
    fn from(v: ConversationView) -> Self {
        let c = v.conversation;
        let last_message = match (c.last_message_id, c.last_message_at) {
            (Some(id), Some(at)) => Some(LastMessageView {
                id: id.0,
                content: c.last_message_preview.unwrap_or_default(),
                sender_id: c.last_message_sender.map(|p| p.0),
                message_type: c.last_message_type.unwrap_or_default(),
                timestamp: at,
            }),
            _ => None,
        };
        let members: Vec<MemberView> = v.members.iter().map(MemberView::from).collect();
        Self {
            id: c.id.0,
            kind: c.kind.as_str().to_owned(),
            conversation_type: c.kind.as_str().to_owned(),
            context_type: c.context_type.as_str().to_owned(),
            context_id: c.context_id,
            title: c.title,
            is_active: c.is_active,
            last_seq: c.last_seq,
            last_message,
            unread_count: v.unread,
            muted: v.me.as_ref().is_some_and(|m| m.muted),
            role: v.me.as_ref().map(|m| m.role.as_str().to_owned()),
            delivered_seq: v.me.as_ref().map(|m| m.delivered_seq),
            read_seq: v.me.as_ref().map(|m| m.read_seq),
            participants: v.members.iter().map(MemberView::from).collect(),
            members,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}
