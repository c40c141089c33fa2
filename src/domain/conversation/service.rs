//! Conversation use cases: opening direct conversations (race-free, under
//! the relationship rules), groups and their members, listing with unread
//! counts, receipts, mute and delete-for-me.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    ContextType, Conversation, ConversationType, DirectKey, Filter, Member, MemberInfo, MemberRole,
    add_member, advance_cursors, conversation_ids_of, get, get_by_pair, insert, list_all, list_for,
    member, member_ids, members_of, pair_key,
};
use crate::{
    domain::{
        Actor, ConversationId, Core, MessageId, Page, ParticipantId, audit, cursor,
        events::DomainEvent,
        participant::{self, ParticipantType},
        relationship,
        values::Name,
    },
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

/// A new group.
#[derive(Debug)]
pub struct NewGroup {
    pub title: Name,
    pub members: Vec<ParticipantId>,
    pub context_type: ContextType,
    pub context_id: Option<String>,
}

/// Changes to a conversation.
#[derive(Debug, Default)]
pub struct ConversationChanges {
    /// Groups only; their owners and admins.
    pub title: Option<Name>,
    /// Close (`false`) or reopen; tenant admins.
    pub is_active: Option<bool>,
}

fn not_found() -> AppError {
    AppError::NotFound("conversation")
}

/// Most members a group may have.
const MAX_GROUP: usize = 256;

impl Core {
    /// Opens the direct conversation between the actor and `key.other` in
    /// the key's context: returns it when it exists, creates it otherwise.
    /// Two racing opens give one conversation (the pair key is unique).
    pub async fn open_direct(&self, actor: &Actor, key: DirectKey) -> AppResult<Conversation> {
        let (tenant, me) = actor.participant()?;
        let mut tx = self.pool().begin().await?;
        let from = participant::get(&mut tx, tenant, me)
            .await?
            .ok_or_else(not_found)?;
        let to = participant::get(&mut tx, tenant, key.other)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        relationship::may_contact(&mut tx, &from, &to).await?;
        let kind = ConversationType::direct(from.kind, to.kind).ok_or_else(|| {
            AppError::validation("no direct conversation between these participants")
        })?;
        let pair = pair_key(me, key.other, key.context_type, key.context_id.as_deref());
        if let Some(existing) = get_by_pair(&mut tx, tenant, &pair).await? {
            // Someone who deleted it for themselves gets it back as it was.
            return Ok(existing);
        }
        let now = crate::domain::now();
        let conversation = Conversation {
            tenant_id: tenant,
            id: ConversationId::new(),
            kind,
            context_type: key.context_type,
            context_id: key.context_id,
            title: None,
            is_active: true,
            created_by: Some(me),
            last_seq: 0,
            last_message_id: None,
            last_message_at: None,
            last_message_sender: None,
            last_message_type: None,
            last_message_preview: None,
            activity_at: now,
            created_at: now,
            updated_at: now,
        };
        if !insert(&mut tx, &conversation, Some(&pair)).await? {
            drop(tx);
            let mut conn = self.pool().acquire().await?;
            return get_by_pair(&mut conn, tenant, &pair)
                .await?
                .ok_or_else(not_found);
        }
        add_member(&mut tx, tenant, conversation.id, me, MemberRole::Member).await?;
        add_member(
            &mut tx,
            tenant,
            conversation.id,
            key.other,
            MemberRole::Member,
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::ConversationCreated {
                conversation: Arc::new(conversation.clone()),
                members: Arc::from([me, key.other]),
            })
            .await;
        Ok(conversation)
    }

    /// Creates a group owned by the actor with the given members.
    pub async fn create_group(&self, actor: &Actor, group: NewGroup) -> AppResult<Conversation> {
        let (tenant, me) = actor.participant()?;
        let mut members: Vec<ParticipantId> =
            group.members.into_iter().filter(|p| *p != me).collect();
        members.sort();
        members.dedup();
        if members.is_empty() {
            return Err(AppError::validation(
                "a group needs at least one other member",
            ));
        }
        if members.len() >= MAX_GROUP {
            return Err(AppError::validation(format!(
                "a group has at most {MAX_GROUP} members"
            )));
        }
        let mut tx = self.pool().begin().await?;
        let found = participant::get_many(&mut tx, tenant, &members).await?;
        if found.len() != members.len() {
            return Err(AppError::NotFound("participant"));
        }
        let now = crate::domain::now();
        let conversation = Conversation {
            tenant_id: tenant,
            id: ConversationId::new(),
            kind: ConversationType::Group,
            context_type: group.context_type,
            context_id: group.context_id,
            title: Some(group.title.into_inner()),
            is_active: true,
            created_by: Some(me),
            last_seq: 0,
            last_message_id: None,
            last_message_at: None,
            last_message_sender: None,
            last_message_type: None,
            last_message_preview: None,
            activity_at: now,
            created_at: now,
            updated_at: now,
        };
        insert(&mut tx, &conversation, None).await?;
        add_member(&mut tx, tenant, conversation.id, me, MemberRole::Owner).await?;
        for participant in &members {
            add_member(
                &mut tx,
                tenant,
                conversation.id,
                *participant,
                MemberRole::Member,
            )
            .await?;
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "conversation.group_create")
                .target("conversation", conversation.id.0),
        )
        .await?;
        tx.commit().await?;
        members.push(me);
        self.events()
            .publish(DomainEvent::ConversationCreated {
                conversation: Arc::new(conversation.clone()),
                members: Arc::from(members),
            })
            .await;
        Ok(conversation)
    }

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

    /// The conversations the actor is a current member of.
    pub async fn my_conversation_ids(&self, actor: &Actor) -> AppResult<Vec<ConversationId>> {
        let (tenant, me) = actor.participant()?;
        conversation_ids_of(&mut *self.pool().acquire().await?, tenant, me).await
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

    /// Delete-for-me of a whole conversation: its messages so far disappear
    /// for the actor, and it leaves their list until a newer message comes.
    pub async fn hide_conversation(&self, actor: &Actor, id: ConversationId) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        self.membership(actor, id).await?;
        sqlx::query(
            "UPDATE conversation_members m JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
             SET m.hidden = TRUE, m.cleared_seq = c.last_seq,
                 m.read_seq = GREATEST(m.read_seq, c.last_seq), m.delivered_seq = GREATEST(m.delivered_seq, c.last_seq)
             WHERE m.tenant_id = ? AND m.conversation_id = ? AND m.participant_id = ?",
        )
        .bind(tenant)
        .bind(id)
        .bind(me)
        .execute(self.pool())
        .await?;
        Ok(())
    }

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

    /// Mutes or unmutes a conversation for the actor.
    pub async fn set_muted(&self, actor: &Actor, id: ConversationId, muted: bool) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        self.membership(actor, id).await?;
        sqlx::query("UPDATE conversation_members SET muted = ? WHERE tenant_id = ? AND conversation_id = ? AND participant_id = ?")
            .bind(muted)
            .bind(tenant)
            .bind(id)
            .bind(me)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Moves the actor's delivered and read cursors forward (never back).
    pub async fn mark(
        &self,
        actor: &Actor,
        id: ConversationId,
        delivered: u64,
        read: u64,
    ) -> AppResult<Member> {
        let (tenant, me) = actor.participant()?;
        let (_, before) = self.membership(actor, id).await?;
        let mut tx = self.pool().begin().await?;
        advance_cursors(&mut tx, tenant, id, me, delivered, read).await?;
        let after = member(&mut tx, tenant, id, me)
            .await?
            .ok_or_else(not_found)?;
        let members = member_ids(&mut tx, tenant, id).await?;
        tx.commit().await?;
        if after.delivered_seq != before.delivered_seq || after.read_seq != before.read_seq {
            self.events()
                .publish(DomainEvent::ReceiptMoved {
                    tenant,
                    conversation: id,
                    participant: me,
                    delivered_seq: after.delivered_seq,
                    read_seq: after.read_seq,
                    delivered_moved: after.delivered_seq != before.delivered_seq,
                    read_moved: after.read_seq != before.read_seq,
                    members: Arc::from(members),
                })
                .await;
        }
        Ok(after)
    }

    /// Seed 004's mark-read by message ids: the read cursor moves to the
    /// newest of them. Ids of no message of this conversation are a 404
    /// (`message`); among known ones, unknown ids are ignored.
    pub async fn mark_read_ids(
        &self,
        actor: &Actor,
        id: ConversationId,
        messages: &[MessageId],
    ) -> AppResult<Member> {
        let tenant = actor.tenant()?;
        if messages.is_empty() {
            return Err(AppError::validation("messageIds lists no message"));
        }
        self.membership(actor, id).await?;
        let mut conn = self.pool().acquire().await?;
        let newest = crate::domain::message::max_seq_of(&mut conn, tenant, id, messages).await?;
        drop(conn);
        if newest == 0 {
            return Err(AppError::NotFound("message"));
        }
        self.mark(actor, id, newest, newest).await
    }

    /// Seed 004's admin view: the admin's conversation with an astrologer.
    pub async fn admin_conversation_with(
        &self,
        actor: &Actor,
        astrologer: ParticipantId,
    ) -> AppResult<Conversation> {
        let tenant = actor.tenant()?;
        if !actor.is_admin() {
            return Err(AppError::forbidden(
                "this is the admins' conversation with an astrologer",
            ));
        }
        let other = participant::get(&mut *self.pool().acquire().await?, tenant, astrologer)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        if other.kind != ParticipantType::Astrologer {
            return Err(AppError::NotFound("astrologer"));
        }
        self.open_direct(actor, DirectKey::general(astrologer))
            .await
    }

    /// Seed 004's astrologer view: their conversation with the admins —
    /// the one they used last, or one with the tenant's first admin.
    pub async fn astrologer_admin_conversation(&self, actor: &Actor) -> AppResult<Conversation> {
        let (tenant, me) = actor.participant()?;
        if actor.role != crate::domain::Role::Astrologer {
            return Err(AppError::forbidden(
                "this is the astrologers' conversation with their admins",
            ));
        }
        let mut conn = self.pool().acquire().await?;
        let latest: Option<ConversationId> = sqlx::query_scalar(
            "SELECT c.id FROM conversation_members m
             JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
             WHERE m.tenant_id = ? AND m.participant_id = ? AND m.left_at IS NULL AND c.type = 'admin_astrologer'
             ORDER BY c.activity_at DESC LIMIT 1",
        )
        .bind(tenant)
        .bind(me)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = latest {
            return get(&mut conn, tenant, id).await?.ok_or_else(not_found);
        }
        let admin: Option<ParticipantId> = sqlx::query_scalar(
            "SELECT id FROM participants WHERE tenant_id = ? AND type = 'admin' AND NOT blocked ORDER BY created_at, id LIMIT 1",
        )
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?;
        drop(conn);
        let admin = admin.ok_or(AppError::NotFound("admin"))?;
        self.open_direct(actor, DirectKey::general(admin)).await
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
