//! The SQL of memberships: adding members, reading them (with names, ids,
//! who shares a conversation with whom, who is behind on deliveries) and
//! moving their receipt cursors.

use sqlx::{MySqlConnection, QueryBuilder};

use super::{MEMBER_COLUMNS, Member, MemberInfo, MemberRole};
use crate::{
    domain::{ConversationId, ParticipantId, TenantId},
    error::AppResult,
};

/// Marks a change to who the conversation's current members are (the
/// `members_rev` the message writer keeps its members under), before the
/// change: it takes the conversation's row lock first, in the order the
/// writer takes its locks (the conversation, then member rows).
pub async fn members_changing(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE conversations SET members_rev = members_rev + 1 WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenant)
    .bind(conversation)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds a member, or brings back one who left.
pub async fn add_member(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
    participant: ParticipantId,
    role: MemberRole,
) -> AppResult<()> {
    members_changing(&mut *conn, tenant, conversation).await?;
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
    .bind(crate::domain::now())
    .execute(conn)
    .await?;
    Ok(())
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

/// A membership with its conversation's last seq: behind when that is past
/// the delivered cursor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Behind {
    #[sqlx(flatten)]
    pub member: Member,
    pub last_seq: u64,
}

impl Behind {
    /// Whether the conversation has messages past the delivered cursor.
    pub fn is_behind(&self) -> bool {
        self.last_seq > self.member.delivered_seq
    }

    /// The first `limit` of `memberships` (most recently active first) that
    /// are behind: what a catch-up sends.
    pub fn first_behind(memberships: Vec<Behind>, limit: u32) -> Vec<Behind> {
        memberships
            .into_iter()
            .filter(Behind::is_behind)
            .take(limit as usize)
            .collect()
    }
}

/// All of `participant`'s current memberships, most recently active first:
/// what a socket's connect needs (the rooms, and which are behind) in one
/// read.
pub async fn memberships_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
) -> AppResult<Vec<Behind>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS}, c.last_seq FROM conversation_members m
         JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
         WHERE m.tenant_id = ? AND m.participant_id = ? AND m.left_at IS NULL
         ORDER BY c.activity_at DESC"
    ))
    .bind(tenant)
    .bind(participant)
    .fetch_all(conn)
    .await?)
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
