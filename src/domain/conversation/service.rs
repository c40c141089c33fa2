//! Conversation use cases on [`Core`]: opening direct conversations
//! (race-free, under the relationship rules), creating groups, and the
//! admin-astrologer conversations of seed 004. Reading is in `read`,
//! changes and group members in `groups`, a member's own receipts, mute
//! and delete-for-me in `own`.

use std::sync::Arc;

use super::{
    ContextType, Conversation, ConversationType, DirectKey, MemberRole, add_member, get,
    get_by_pair, insert, pair_key,
};
use crate::{
    domain::{
        Actor, ConversationId, Core, ParticipantId, audit,
        events::DomainEvent,
        log::{self, LogKind, NewEntry},
        participant::{self, ParticipantType},
        relationship,
        values::Name,
    },
    error::{AppError, AppResult},
};

/// A new group.
#[derive(Debug)]
pub struct NewGroup {
    pub title: Name,
    pub members: Vec<ParticipantId>,
    pub context_type: ContextType,
    pub context_id: Option<String>,
}

pub(super) fn not_found() -> AppError {
    AppError::NotFound("conversation")
}

/// Most members a group may have.
pub(super) const MAX_GROUP: usize = 1024;

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
        log::append(&mut tx, &[created(&conversation)]).await?;
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
        log::append(&mut tx, &[created(&conversation)]).await?;
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
}

/// The log's entry for a conversation just made.
fn created(conversation: &Conversation) -> NewEntry {
    NewEntry::new(
        conversation.tenant_id,
        LogKind::ConversationCreated,
        conversation.id,
    )
    .in_conversation(Some(conversation.id))
}
