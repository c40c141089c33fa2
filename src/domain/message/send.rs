//! Sending messages on [`Core`]. Every message, whoever sends it and
//! through whichever front door, goes through [`Core::append`]: it takes
//! the next `seq` from the conversation row (locked until commit, so
//! concurrent sends queue and a rolled-back send gives its number back) and
//! inserts the message in the same transaction. Also forwarding, Samvad's
//! own messages, and the seeds' send-to-a-participant.

use std::sync::Arc;

use sqlx::MySqlConnection;

use super::{
    Message, MessageType, SendInput, by_client_id, get, insert, read::not_found, sent_up_to,
};
use crate::{
    domain::{
        Actor, ConversationId, Core, MessageId, ParticipantId, TenantId,
        conversation::{self, Conversation, ConversationType},
        events::DomainEvent,
        limits::Kind,
        participant::{self, ParticipantType},
        relationship,
    },
    error::{AppError, AppResult, is_unique_violation},
};

impl Core {
    /// Appends a message to a conversation: takes the next seq and inserts,
    /// in the caller's transaction. The conversation row stays locked until
    /// the caller commits.
    pub(crate) async fn append(
        &self,
        tx: &mut MySqlConnection,
        conversation: &Conversation,
        mut message: Message,
    ) -> Result<Message, sqlx::Error> {
        let now = message.created_at;
        // LAST_INSERT_ID(expr) hands the new value back with the update's
        // answer: no second statement to read it.
        let updated = sqlx::query(
            "UPDATE conversations SET last_seq = LAST_INSERT_ID(last_seq + 1), last_message_id = ?,
                    last_message_at = ?, last_message_sender = ?, last_message_type = ?,
                    last_message_preview = ?, activity_at = ?, updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(message.id)
        .bind(now)
        .bind(message.sender_id)
        .bind(message.kind.as_str())
        .bind(message.preview())
        .bind(now)
        .bind(now)
        .bind(conversation.tenant_id)
        .bind(conversation.id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(sqlx::Error::RowNotFound);
        }
        message.seq = updated.last_insert_id();
        insert(tx, &message).await?;
        Ok(message)
    }

    /// Sends a message as the actor, who must be a current member. Direct
    /// conversations also need the relationship to stand (no block between
    /// the two). A repeated `clientMsgId` returns the first message.
    pub async fn send_message(
        &self,
        actor: &Actor,
        id: ConversationId,
        input: SendInput,
    ) -> AppResult<Message> {
        self.send(actor, id, input, None).await
    }

    async fn send(
        &self,
        actor: &Actor,
        id: ConversationId,
        mut input: SendInput,
        forwarded_from: Option<MessageId>,
    ) -> AppResult<Message> {
        let (tenant, me) = actor.participant()?;
        // Held until the send is done: past the bound, refused at once.
        let _admitted = self.sends.admit()?;
        let settings = self.settings_of(tenant).await?;
        input.validate(settings.max_message_chars)?;
        // One pooled connection for the reads and the transaction: sqlx
        // pings a connection each time it goes back to the pool.
        let mut conn = self.pool().acquire().await?;
        if let Some(client_id) = &input.client_msg_id
            && let Some(first) = by_client_id(&mut conn, tenant, me, client_id).await?
        {
            drop(conn);
            return self.resent(actor, id, first).await;
        }
        self.limits().check(
            tenant,
            Kind::MessagesPerParticipant,
            settings.messages_per_participant,
            &me.to_string(),
        )?;
        let (conversation, _) = conversation::membership_on(&mut conn, tenant, me, id).await?;
        if !conversation.is_active && !actor.is_admin() {
            return Err(AppError::conflict(
                "conversation_closed",
                "this conversation is closed",
            ));
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let members = conversation::member_ids(&mut tx, tenant, id).await?;
        if conversation.kind != ConversationType::Group
            && let Some(other) = members.iter().find(|p| **p != me)
            && relationship::blocked_between(&mut tx, tenant, me, *other).await?
        {
            return Err(AppError::Forbidden {
                code: "blocked",
                message: "one of you has blocked the other".into(),
            });
        }
        if let Some(reply) = input.reply_to {
            let target = get(&mut tx, tenant, reply).await?;
            if target.is_none_or(|t| t.conversation_id != id) {
                return Err(AppError::validation(
                    "replyTo must be a message of the same conversation",
                ));
            }
        }
        let message = Message {
            tenant_id: tenant,
            conversation_id: id,
            seq: 0,
            id: MessageId::new(),
            sender_id: Some(me),
            kind: input.kind,
            content: input.content,
            media_url: input.media_url,
            metadata: input.metadata.map(|m| m.to_string()),
            reply_to_id: input.reply_to,
            forwarded_from_id: forwarded_from,
            client_msg_id: input.client_msg_id.clone(),
            created_at: crate::domain::now(),
            edited_at: None,
            deleted_at: None,
        };
        let message = match self.append(&mut tx, &conversation, message).await {
            Ok(message) => message,
            Err(err) if is_unique_violation(&err, "uq_messages_client") => {
                // The same clientMsgId raced in: the first one wins.
                tx.rollback().await?;
                let client_id = input.client_msg_id.unwrap_or_default();
                let first = by_client_id(&mut conn, tenant, me, &client_id)
                    .await?
                    .ok_or_else(not_found)?;
                drop(conn);
                return self.resent(actor, id, first).await;
            }
            Err(err) => return Err(err.into()),
        };
        sent_up_to(&mut tx, tenant, id, me, message.seq).await?;
        tx.commit().await?;
        drop(conn);
        // The sender is the actor: its type needs no lookup, so nothing
        // stands between the commit and the event (events keep seq order).
        let sender_kind = actor.participant_type();
        self.events()
            .publish(DomainEvent::MessageCreated {
                message: Arc::new(message.clone()),
                members: Arc::from(members),
                sender_kind,
            })
            .await;
        Ok(message)
    }

    /// The sender's type, which the message's events carry (clients show it
    /// beside the message); `None` for Samvad's own messages. A failed
    /// lookup is logged and leaves it out: the message is already stored.
    pub(super) async fn sender_kind(&self, message: &Message) -> Option<ParticipantType> {
        let sender = message.sender_id?;
        match self.participant_kind(message.tenant_id, sender).await {
            Ok(kind) => kind,
            Err(err) => {
                tracing::warn!(error = %err, "sender's type lookup failed; the event leaves it out");
                None
            }
        }
    }

    /// The first message of a resent `clientMsgId` (in the same conversation).
    async fn resent(
        &self,
        actor: &Actor,
        id: ConversationId,
        first: Message,
    ) -> AppResult<Message> {
        if first.conversation_id != id {
            return Err(AppError::conflict(
                "client_msg_id_reused",
                "this clientMsgId was used in another conversation",
            ));
        }
        self.membership(actor, id).await?;
        Ok(first)
    }

    /// Writes a message as Samvad itself (system or call outcome) into a
    /// conversation, through the same path as every other message.
    pub async fn post_system_message(
        &self,
        tenant: TenantId,
        id: ConversationId,
        kind: MessageType,
        sender: Option<ParticipantId>,
        content: String,
        metadata: serde_json::Value,
    ) -> AppResult<Message> {
        let mut tx = self.pool().begin().await?;
        let conversation = conversation::get(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("conversation"))?;
        let members = conversation::member_ids(&mut tx, tenant, id).await?;
        let message = Message {
            tenant_id: tenant,
            conversation_id: id,
            seq: 0,
            id: MessageId::new(),
            sender_id: sender,
            kind,
            content: Some(content),
            media_url: None,
            metadata: Some(metadata.to_string()),
            reply_to_id: None,
            forwarded_from_id: None,
            client_msg_id: None,
            created_at: crate::domain::now(),
            edited_at: None,
            deleted_at: None,
        };
        let message = self.append(&mut tx, &conversation, message).await?;
        tx.commit().await?;
        let sender_kind = self.sender_kind(&message).await;
        self.events()
            .publish(DomainEvent::MessageCreated {
                message: Arc::new(message.clone()),
                members: Arc::from(members),
                sender_kind,
            })
            .await;
        Ok(message)
    }

    /// Forwards a message the actor can see into another conversation of
    /// theirs, as a new message marked with where it came from.
    pub async fn forward_message(
        &self,
        actor: &Actor,
        id: MessageId,
        to: ConversationId,
    ) -> AppResult<Message> {
        let (message, _, _) = self.visible(actor, id).await?;
        if message.deleted_at.is_some()
            || !matches!(
                message.kind,
                MessageType::Text | MessageType::Image | MessageType::Audio | MessageType::File
            )
        {
            return Err(AppError::conflict(
                "not_forwardable",
                "only existing text and media messages are forwarded",
            ));
        }
        let input = SendInput {
            kind: message.kind,
            content: message.content.clone(),
            media_url: message.media_url.clone(),
            metadata: message
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            reply_to: None,
            client_msg_id: None,
        };
        self.send(actor, to, input, Some(message.id)).await
    }

    /// The conversation a direct `to` participant implies: the seeds' `POST
    /// /api/messages {to}` sends into the general conversation with them.
    pub async fn direct_with(&self, actor: &Actor, to: ParticipantId) -> AppResult<ConversationId> {
        let tenant = actor.tenant()?;
        participant::get(&mut *self.pool().acquire().await?, tenant, to)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        Ok(self
            .open_direct(actor, conversation::DirectKey::general(to))
            .await?
            .id)
    }
}
