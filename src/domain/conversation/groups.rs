//! Changing a conversation on [`Core`]: renaming a group, closing and
//! reopening, and a group's members and their roles.

use std::sync::Arc;

use super::{
    Conversation, ConversationType, Member, MemberRole, add_member, get, member, member_ids,
    members_changing,
    service::{MAX_GROUP, not_found},
};
use crate::{
    domain::{
        Actor, ConversationId, Core, ParticipantId, TenantId, audit,
        events::DomainEvent,
        log::{self, LogKind, NewEntry},
        participant,
        values::Name,
    },
    error::{AppError, AppResult},
};

/// Changes to a conversation.
#[derive(Debug, Default)]
pub struct ConversationChanges {
    /// Groups only; their owners and admins.
    pub title: Option<Name>,
    /// Close (`false`) or reopen; tenant admins.
    pub is_active: Option<bool>,
}

impl Core {
    /// Renames a group (its owners and admins) or closes / reopens a
    /// conversation (tenant admins).
    pub async fn update_conversation(
        &self,
        actor: &Actor,
        id: ConversationId,
        changes: ConversationChanges,
    ) -> AppResult<Conversation> {
        let tenant = actor.tenant()?;
        let (conversation, me) = self.access(actor, id).await?;
        if changes.title.is_some() {
            if conversation.kind != ConversationType::Group {
                return Err(AppError::validation("only groups have a title"));
            }
            if !me.as_ref().is_some_and(|m| m.role.manages()) && !actor.is_admin() {
                return Err(AppError::forbidden(
                    "only the group's owner and admins rename it",
                ));
            }
        }
        if changes.is_active.is_some() && !actor.sees_everyone() {
            return Err(AppError::forbidden(
                "only the tenant's admins close and reopen conversations",
            ));
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE conversations SET title = COALESCE(?, title), is_active = COALESCE(?, is_active), updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(changes.title.as_ref().map(Name::as_str))
        .bind(changes.is_active)
        .bind(crate::domain::now())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "conversation.update").target("conversation", id.0),
        )
        .await?;
        let updated = get(&mut tx, tenant, id).await?.ok_or_else(not_found)?;
        let members = member_ids(&mut tx, tenant, id).await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::ConversationUpdated {
                conversation: Arc::new(updated.clone()),
                members: Arc::from(members),
            })
            .await;
        Ok(updated)
    }

    /// Adds members to a group (its owners and admins).
    pub async fn add_members(
        &self,
        actor: &Actor,
        id: ConversationId,
        add: &[ParticipantId],
    ) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let (conversation, me) = self.membership(actor, id).await?;
        if conversation.kind != ConversationType::Group {
            return Err(AppError::validation(
                "direct conversations keep their two members",
            ));
        }
        if !me.role.manages() {
            return Err(AppError::forbidden(
                "only the group's owner and admins add members",
            ));
        }
        let mut tx = self.pool().begin().await?;
        let found = participant::get_many(&mut tx, tenant, add).await?;
        if found.len() != add.iter().collect::<std::collections::HashSet<_>>().len() {
            return Err(AppError::NotFound("participant"));
        }
        if member_ids(&mut tx, tenant, id).await?.len() + add.len() > MAX_GROUP {
            return Err(AppError::validation(format!(
                "a group has at most {MAX_GROUP} members"
            )));
        }
        for participant in add {
            add_member(&mut tx, tenant, id, *participant, MemberRole::Member).await?;
        }
        let members = member_ids(&mut tx, tenant, id).await?;
        let entries: Vec<NewEntry> = add
            .iter()
            .map(|p| member_entry(tenant, id, LogKind::MemberAdded, *p))
            .collect();
        log::append(&mut tx, &entries).await?;
        tx.commit().await?;
        let members: Arc<[ParticipantId]> = Arc::from(members);
        for participant in add {
            self.events()
                .publish(DomainEvent::MemberAdded {
                    tenant,
                    conversation: id,
                    participant: *participant,
                    members: members.clone(),
                })
                .await;
        }
        Ok(())
    }

    /// Removes a member from a group: owners and admins remove others
    /// (admins not the owner); anyone may leave. An owner who leaves hands
    /// the group to its longest-standing member.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        id: ConversationId,
        who: ParticipantId,
    ) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let (conversation, me) = self.membership(actor, id).await?;
        if conversation.kind != ConversationType::Group {
            return Err(AppError::validation(
                "direct conversations keep their two members; delete it for yourself instead",
            ));
        }
        let mut tx = self.pool().begin().await?;
        let target = member(&mut tx, tenant, id, who)
            .await?
            .filter(Member::is_current)
            .ok_or(AppError::NotFound("member"))?;
        let leaving = who == me.participant_id;
        let allowed = leaving
            || me.role == MemberRole::Owner
            || (me.role == MemberRole::Admin && target.role == MemberRole::Member);
        if !allowed {
            return Err(AppError::forbidden("you may not remove this member"));
        }
        members_changing(&mut tx, tenant, id).await?;
        sqlx::query(
            "UPDATE conversation_members SET left_at = ?, role = 'member'
             WHERE tenant_id = ? AND conversation_id = ? AND participant_id = ?",
        )
        .bind(crate::domain::now())
        .bind(tenant)
        .bind(id)
        .bind(who)
        .execute(&mut *tx)
        .await?;
        if target.role == MemberRole::Owner {
            sqlx::query(
                "UPDATE conversation_members SET role = 'owner'
                 WHERE tenant_id = ? AND conversation_id = ? AND left_at IS NULL
                 ORDER BY FIELD(role, 'admin', 'member'), joined_at LIMIT 1",
            )
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let members = member_ids(&mut tx, tenant, id).await?;
        log::append(
            &mut tx,
            &[member_entry(tenant, id, LogKind::MemberRemoved, who)],
        )
        .await?;
        tx.commit().await?;
        let mut notify = members.clone();
        notify.push(who);
        self.events()
            .publish(DomainEvent::MemberRemoved {
                tenant,
                conversation: id,
                participant: who,
                members: Arc::from(notify),
            })
            .await;
        Ok(())
    }

    /// Changes a member's role in a group. Only the owner does; making
    /// someone owner hands the group over (the old owner becomes admin).
    pub async fn set_member_role(
        &self,
        actor: &Actor,
        id: ConversationId,
        who: ParticipantId,
        role: MemberRole,
    ) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let (conversation, me) = self.membership(actor, id).await?;
        if conversation.kind != ConversationType::Group {
            return Err(AppError::validation("direct conversations have no roles"));
        }
        if me.role != MemberRole::Owner {
            return Err(AppError::forbidden("only the group's owner changes roles"));
        }
        if who == me.participant_id {
            return Err(AppError::validation(
                "hand the group to someone else by making them owner",
            ));
        }
        let mut tx = self.pool().begin().await?;
        member(&mut tx, tenant, id, who)
            .await?
            .filter(Member::is_current)
            .ok_or(AppError::NotFound("member"))?;
        sqlx::query("UPDATE conversation_members SET role = ? WHERE tenant_id = ? AND conversation_id = ? AND participant_id = ?")
            .bind(role)
            .bind(tenant)
            .bind(id)
            .bind(who)
            .execute(&mut *tx)
            .await?;
        if role == MemberRole::Owner {
            sqlx::query("UPDATE conversation_members SET role = 'admin' WHERE tenant_id = ? AND conversation_id = ? AND participant_id = ?")
                .bind(tenant)
                .bind(id)
                .bind(me.participant_id)
                .execute(&mut *tx)
                .await?;
        }
        let members = member_ids(&mut tx, tenant, id).await?;
        let updated = get(&mut tx, tenant, id).await?.ok_or_else(not_found)?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::ConversationUpdated {
                conversation: Arc::new(updated),
                members: Arc::from(members),
            })
            .await;
        Ok(())
    }
}

/// The log's entry for a member added or removed.
fn member_entry(
    tenant: TenantId,
    conversation: ConversationId,
    kind: LogKind,
    participant: ParticipantId,
) -> NewEntry {
    NewEntry::new(tenant, kind, participant).in_conversation(Some(conversation))
}
