//! Changing sent messages on [`Core`]: editing, deleting (for oneself or
//! for everyone) and reactions, each published to the conversation's
//! members.

use std::{collections::HashMap, sync::Arc};

use sqlx::MySqlConnection;

use super::{
    Message, MessageSet, MessageType, Reaction, get, input::checked_text, reactions_of,
    read::not_found,
};
use crate::{
    domain::{
        Actor, ConversationId, Core, MessageId, ParticipantId, TenantId,
        conversation::{self, ConversationType},
        events::DomainEvent,
        guard::{self, Hit, NewFlag},
        log::{self, LogKind, NewEntry},
    },
    error::{AppError, AppResult},
};

impl Core {
    async fn publish_change(
        &self,
        message: &Message,
        event: impl FnOnce(Arc<Message>, Arc<[ParticipantId]>) -> DomainEvent,
    ) -> AppResult<()> {
        let members = conversation::member_ids(
            &mut *self.pool().acquire().await?,
            message.tenant_id,
            message.conversation_id,
        )
        .await?;
        self.events()
            .publish(event(Arc::new(message.clone()), Arc::from(members)))
            .await;
        Ok(())
    }

    /// Edits the text of the actor's own message within the tenant's edit
    /// window; the message keeps when it was edited.
    pub async fn edit_message(
        &self,
        actor: &Actor,
        id: MessageId,
        content: String,
    ) -> AppResult<MessageSet> {
        let (tenant, me) = actor.participant()?;
        let settings = self.settings_of(tenant).await?;
        let (message, conversation, _) = self.visible(actor, id).await?;
        if message.sender_id != Some(me) {
            return Err(AppError::forbidden("only the sender edits a message"));
        }
        if message.deleted_at.is_some() {
            return Err(AppError::conflict(
                "message_deleted",
                "a deleted message cannot be edited",
            ));
        }
        if !matches!(
            message.kind,
            MessageType::Text
                | MessageType::Image
                | MessageType::Audio
                | MessageType::Video
                | MessageType::File
        ) {
            return Err(AppError::validation("only text and captions are edited"));
        }
        let window = chrono::Duration::seconds(settings.message_edit_window_secs.into());
        if crate::domain::now() - message.created_at > window {
            return Err(AppError::conflict(
                "edit_window_passed",
                "messages can only be edited for a while after sending",
            ));
        }
        let mut content = checked_text(Some(content), settings.max_message_chars)?;
        if message.kind == MessageType::Text && content.is_none() {
            return Err(AppError::validation("a text message needs some text"));
        }
        // The contact guard holds edits as it holds sends.
        let hit = match (&content, super::send::guard_for(actor, &settings)) {
            (Some(text), Some(guard)) if conversation.kind == ConversationType::UserAstrologer => {
                Hit::of(&guard, text)
            }
            _ => None,
        };
        let now = crate::domain::now();
        let mut tx = self.pool().begin().await?;
        if let Some((hit, masked)) = hit {
            let blocked = masked.is_none();
            let flag = NewFlag {
                tenant_id: tenant,
                conversation_id: message.conversation_id,
                sender_id: me,
                message_id: (!blocked).then_some(id),
                hit,
            };
            guard::record(&mut tx, std::slice::from_ref(&flag)).await?;
            if blocked {
                tx.commit().await?;
                return Err(flag.hit.refusal());
            }
            content = masked;
        }
        sqlx::query(
            "UPDATE messages SET content = ?, edited_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(&content)
        .bind(now)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut edited = get(&mut tx, tenant, id).await?.ok_or_else(not_found)?;
        refresh_preview(&mut tx, &edited).await?;
        log::append(
            &mut tx,
            &[NewEntry::of_message(LogKind::MessageUpdated, &edited)],
        )
        .await?;
        tx.commit().await?;
        self.attach(tenant, std::slice::from_mut(&mut edited))
            .await?;
        let sender_kind = self.sender_kind(&edited).await;
        self.publish_change(&edited, |message, members| DomainEvent::MessageEdited {
            message,
            members,
            sender_kind,
        })
        .await?;
        self.message_set(&mut *self.pool().acquire().await?, tenant, vec![edited])
            .await
    }

    /// Deletes a message for the actor only, or for everyone (its sender,
    /// the group's owner and admins, or a tenant admin): content and media
    /// are cleared, the tombstone keeps its place in the sequence.
    pub async fn delete_message(
        &self,
        actor: &Actor,
        id: MessageId,
        for_everyone: bool,
    ) -> AppResult<Message> {
        let (tenant, me) = actor.participant()?;
        let (message, _, member) = self.visible(actor, id).await?;
        if !for_everyone {
            let member = member.ok_or_else(not_found)?;
            sqlx::query("INSERT IGNORE INTO message_hides (tenant_id, participant_id, message_id, created_at) VALUES (?, ?, ?, ?)")
                .bind(tenant)
                .bind(member.participant_id)
                .bind(id)
                .bind(crate::domain::now())
                .execute(self.pool())
                .await?;
            self.events()
                .publish(DomainEvent::MessageDeleted {
                    message: Arc::new(message.clone()),
                    members: Arc::from([me]),
                    for_everyone: false,
                    sender_kind: self.sender_kind(&message).await,
                })
                .await;
            return Ok(message);
        }
        let may = message.sender_id == Some(me)
            || actor.is_admin()
            || member.is_some_and(|m| m.role.manages());
        if !may {
            return Err(AppError::forbidden(
                "only the sender, the group's admins or a tenant admin delete for everyone",
            ));
        }
        self.tombstone(tenant, id).await
    }

    /// Deletes a message for everyone (the caller has decided it may): text,
    /// media and reactions go, its place in the conversation stays; the
    /// preview, the log and the members follow.
    pub(crate) async fn tombstone(&self, tenant: TenantId, id: MessageId) -> AppResult<Message> {
        self.tombstone_many(tenant, &[id])
            .await?
            .pop()
            .ok_or_else(not_found)
    }

    /// [`Core::tombstone`] for several messages of a tenant, in one
    /// transaction (an erasure's batch). `ids` come in conversation order,
    /// so conversations' rows are taken in key order, as the message writer
    /// takes them, and the two do not deadlock.
    pub(crate) async fn tombstone_many(
        &self,
        tenant: TenantId,
        ids: &[MessageId],
    ) -> AppResult<Vec<Message>> {
        let now = crate::domain::now();
        let mut tx = self.pool().begin().await?;
        let mut deleted = Vec::with_capacity(ids.len());
        let mut orphaned = 0;
        for &id in ids {
            sqlx::query(
                "UPDATE messages SET content = NULL, media_url = NULL, metadata = NULL, deleted_at = COALESCE(deleted_at, ?)
                 WHERE tenant_id = ? AND id = ?",
            )
            .bind(now)
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM message_reactions WHERE tenant_id = ? AND message_id = ?")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            orphaned += crate::domain::file::unlink(&mut tx, tenant, id).await?;
            let gone = get(&mut tx, tenant, id).await?.ok_or_else(not_found)?;
            refresh_preview(&mut tx, &gone).await?;
            deleted.push(gone);
        }
        let entries: Vec<NewEntry> = deleted
            .iter()
            .map(|m| NewEntry::of_message(LogKind::MessageDeleted, m))
            .collect();
        log::append(&mut tx, &entries).await?;
        tx.commit().await?;
        if orphaned > 0 {
            self.media_wakeup().notify_one();
        }
        let mut members: HashMap<ConversationId, Arc<[ParticipantId]>> = HashMap::new();
        for message in &deleted {
            let to = match members.get(&message.conversation_id) {
                Some(to) => to.clone(),
                None => {
                    let ids = conversation::member_ids(
                        &mut *self.pool().acquire().await?,
                        tenant,
                        message.conversation_id,
                    )
                    .await?;
                    members
                        .entry(message.conversation_id)
                        .or_insert_with(|| Arc::from(ids))
                        .clone()
                }
            };
            let sender_kind = self.sender_kind(message).await;
            self.events()
                .publish(DomainEvent::MessageDeleted {
                    message: Arc::new(message.clone()),
                    members: to,
                    for_everyone: true,
                    sender_kind,
                })
                .await;
        }
        Ok(deleted)
    }

    /// Toggles the actor's reaction: the same emoji again removes it, another
    /// replaces it. Returns the message's reactions.
    pub async fn react(
        &self,
        actor: &Actor,
        id: MessageId,
        emoji: &str,
    ) -> AppResult<Vec<Reaction>> {
        let (tenant, me) = actor.participant()?;
        let emoji = emoji.trim();
        if emoji.is_empty()
            || emoji.len() > 32
            || emoji.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AppError::validation(
                "emoji must be one emoji (at most 32 bytes)",
            ));
        }
        let (message, _, member) = self.visible(actor, id).await?;
        member.ok_or_else(not_found)?;
        if message.deleted_at.is_some() {
            return Err(AppError::conflict(
                "message_deleted",
                "a deleted message takes no reactions",
            ));
        }
        let mut tx = self.pool().begin().await?;
        let removed = sqlx::query("DELETE FROM message_reactions WHERE tenant_id = ? AND message_id = ? AND participant_id = ? AND emoji = ?")
            .bind(tenant)
            .bind(id)
            .bind(me)
            .bind(emoji)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !removed {
            sqlx::query(
                "INSERT INTO message_reactions (tenant_id, message_id, participant_id, emoji, created_at)
                 VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE emoji = VALUES(emoji), created_at = VALUES(created_at)",
            )
            .bind(tenant)
            .bind(id)
            .bind(me)
            .bind(emoji)
            .bind(crate::domain::now())
            .execute(&mut *tx)
            .await?;
        }
        let reactions = reactions_of(&mut tx, tenant, &[id]).await?;
        tx.commit().await?;
        let now = (!removed).then(|| emoji.to_owned());
        self.publish_change(&message, |message, members| DomainEvent::ReactionChanged {
            message,
            members,
            participant: me,
            emoji: now,
        })
        .await?;
        Ok(reactions)
    }
}

/// Keeps the conversation's last-message summary true after an edit or a
/// deletion of its newest message.
async fn refresh_preview(tx: &mut MySqlConnection, message: &Message) -> AppResult<()> {
    sqlx::query(
        "UPDATE conversations SET last_message_preview = ?, last_message_type = ?
         WHERE tenant_id = ? AND id = ? AND last_message_id = ?",
    )
    .bind(message.preview())
    .bind(message.kind.as_str())
    .bind(message.tenant_id)
    .bind(message.conversation_id)
    .bind(message.id)
    .execute(tx)
    .await?;
    Ok(())
}
