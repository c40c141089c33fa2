//! Reading conversations on [`Core`]: who may see one (members; a
//! tenant's admins see all), one conversation or a page of them with
//! members and unread counts.

use chrono::{DateTime, Utc};

use super::{
    Behind, Conversation, Filter, Member, MemberInfo, get, list_all, list_for, member, members_of,
    memberships_of, service::not_found,
};
use crate::{
    domain::{Actor, ConversationId, Core, Page, ParticipantId, cursor},
    error::{AppError, AppResult},
};

/// A conversation as one participant sees it.
#[derive(Debug, Clone)]
pub struct ConversationView {
    pub conversation: Conversation,
    /// The viewer's membership; `None` when a tenant admin looks in.
    pub me: Option<Member>,
    /// Messages the viewer has not read.
    pub unread: u64,
    pub members: Vec<MemberInfo>,
}

impl Core {
    /// The conversation and the actor's membership: members see their
    /// conversations; a tenant's admins see all of it (oversight). Anyone
    /// else gets a 404, as for a conversation that does not exist.
    pub async fn access(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> AppResult<(Conversation, Option<Member>)> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        let conversation = get(&mut conn, tenant, id).await?.ok_or_else(not_found)?;
        let me = match actor.participant() {
            Ok((_, me)) => member(&mut conn, tenant, id, me)
                .await?
                .filter(Member::is_current),
            Err(_) => None,
        };
        if me.is_none() && !actor.sees_everyone() {
            return Err(not_found());
        }
        Ok((conversation, me))
    }

    /// The actor's current memberships, most recently active first, each
    /// with its conversation's last seq: a socket's rooms and catch-up in
    /// one read.
    pub async fn memberships(&self, actor: &Actor) -> AppResult<Vec<Behind>> {
        let (tenant, me) = actor.participant()?;
        memberships_of(&mut *self.pool().acquire().await?, tenant, me).await
    }

    /// The actor's membership in a conversation they belong to (else 404).
    pub(crate) async fn membership(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> AppResult<(Conversation, Member)> {
        let (tenant, me) = actor.participant()?;
        membership_on(&mut *self.pool().acquire().await?, tenant, me, id).await
    }

    /// One conversation with its members and the actor's unread count.
    pub async fn conversation(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> AppResult<ConversationView> {
        let (conversation, me) = self.access(actor, id).await?;
        let mut conn = self.pool().acquire().await?;
        let members = members_of(&mut conn, conversation.tenant_id, &[id]).await?;
        let unread = match &me {
            Some(me) => {
                crate::domain::message::unread(&mut conn, conversation.tenant_id, me).await?
            }
            None => 0,
        };
        Ok(ConversationView {
            conversation,
            me,
            unread,
            members,
        })
    }

    /// The actor's conversations by activity, with unread counts and members.
    /// With `all`, a tenant admin lists every conversation of the tenant.
    pub async fn conversations(
        &self,
        actor: &Actor,
        filter: &Filter,
        all: bool,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<ConversationView>> {
        let tenant = actor.tenant()?;
        let after: Option<(DateTime<Utc>, ConversationId)> =
            cursor.map(cursor::decode).transpose()?;
        let mut conn = self.pool().acquire().await?;
        let rows: Vec<(Conversation, Option<Member>, u64)> = if all {
            if !actor.sees_everyone() {
                return Err(AppError::forbidden(
                    "only admins list every conversation of the tenant",
                ));
            }
            list_all(&mut conn, tenant, filter, after.as_ref(), limit + 1)
                .await?
                .into_iter()
                .map(|c| (c, None, 0))
                .collect()
        } else {
            let (_, me) = actor.participant()?;
            list_for(&mut conn, tenant, me, filter, after.as_ref(), limit + 1)
                .await?
                .into_iter()
                .map(|row| (row.conversation, Some(row.me), row.unread.max(0) as u64))
                .collect()
        };
        let page = cursor::page(rows, limit, |(c, _, _)| (c.activity_at, c.id));
        let ids: Vec<ConversationId> = page.items.iter().map(|(c, _, _)| c.id).collect();
        let mut members = members_of(&mut conn, tenant, &ids).await?;
        let items = page
            .items
            .into_iter()
            .map(|(conversation, me, unread)| {
                let (mine, rest): (Vec<MemberInfo>, Vec<MemberInfo>) = members
                    .drain(..)
                    .partition(|m| m.member.conversation_id == conversation.id);
                members = rest;
                ConversationView {
                    conversation,
                    me,
                    unread,
                    members: mine,
                }
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Members of a conversation the actor may see.
    pub async fn conversation_members(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> AppResult<Vec<MemberInfo>> {
        let (conversation, _) = self.access(actor, id).await?;
        members_of(
            &mut *self.pool().acquire().await?,
            conversation.tenant_id,
            &[id],
        )
        .await
    }
}

/// `me`'s current membership in a conversation (else 404), on a connection
/// the caller holds (the send path reads it and then writes on the same one).
pub(crate) async fn membership_on(
    conn: &mut sqlx::MySqlConnection,
    tenant: crate::domain::TenantId,
    me: ParticipantId,
    id: ConversationId,
) -> AppResult<(Conversation, Member)> {
    let conversation = get(conn, tenant, id).await?.ok_or_else(not_found)?;
    let member = member(conn, tenant, id, me)
        .await?
        .filter(Member::is_current)
        .ok_or_else(not_found)?;
    Ok((conversation, member))
}
