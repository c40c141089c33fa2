//! Message use cases. Every message, whoever sends it and through whichever
//! front door, goes through [`Core::append`]: it takes the next `seq` from
//! the conversation row (locked until commit, so concurrent sends queue and
//! a rolled-back send gives its number back) and inserts the message in
//! the same transaction.

use std::sync::Arc;

use sqlx::MySqlConnection;

use super::{
    Message, MessageType, Reaction, by_client_id, get, insert, page, reactions_of, search,
    sent_up_to,
};
use crate::{
    domain::{
        Actor, ConversationId, Core, MessageId, ParticipantId, TenantId,
        conversation::{self, Conversation, ConversationType, Member, MemberInfo},
        events::DomainEvent,
        limits::Kind,
        participant, relationship,
        values::parse_url,
    },
    error::{AppError, AppResult, is_unique_violation},
};

/// What a participant sends.
#[derive(Debug, Clone)]
pub struct SendInput {
    pub kind: MessageType,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub reply_to: Option<MessageId>,
    /// The client's own id for the message: sending it again returns the
    /// first message instead of a duplicate.
    pub client_msg_id: Option<String>,
}

/// Which messages to read: newest first before `before`, or oldest first
/// after `after` (to catch up).
#[derive(Debug, Clone, Copy, Default)]
pub struct Paging {
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub limit: u32,
}

/// Messages with what a client needs to show them.
#[derive(Debug, Clone, Default)]
pub struct MessageSet {
    pub messages: Vec<Message>,
    /// The reactions to these messages.
    pub reactions: Vec<Reaction>,
    /// Every member of their conversations with their cursors, for
    /// senders' types and the per-message status of one's own messages.
    pub members: Vec<MemberInfo>,
}

impl MessageSet {
    /// Loads the reactions and members `messages` are shown with.
    async fn of(
        conn: &mut MySqlConnection,
        tenant: TenantId,
        messages: Vec<Message>,
    ) -> AppResult<Self> {
        let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
        let mut conversations: Vec<ConversationId> =
            messages.iter().map(|m| m.conversation_id).collect();
        conversations.sort_by_key(|c| c.0);
        conversations.dedup();
        Ok(Self {
            reactions: reactions_of(conn, tenant, &ids).await?,
            members: conversation::members_of(conn, tenant, &conversations).await?,
            messages,
        })
    }
}

/// One conversation's messages that a participant has not had delivered.
#[derive(Debug, Clone)]
pub struct CatchUp {
    pub conversation: ConversationId,
    /// Oldest first, after the member's delivered cursor.
    pub set: MessageSet,
    /// More are undelivered than were included: page on with `after`.
    pub more: bool,
    pub last_seq: u64,
}

/// A page of one conversation's messages.
#[derive(Debug, Clone)]
pub struct MessagePage {
    pub conversation: Conversation,
    pub set: MessageSet,
    /// True when more messages lie in the paging direction.
    pub more: bool,
}

/// Most bytes of message metadata.
const MAX_METADATA: usize = 4096;

fn not_found() -> AppError {
    AppError::NotFound("message")
}

impl SendInput {
    /// Checks the input against the tenant's length limit.
    fn validate(&mut self, max_chars: u32) -> AppResult<()> {
        if let Some(content) = &self.content {
            if content.chars().count() > max_chars as usize {
                return Err(AppError::validation(format!(
                    "messages are at most {max_chars} characters"
                )));
            }
            // Line breaks and tabs are text; NUL and the other control
            // characters are not (they break terminals, logs and exports).
            if content
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(AppError::validation(
                    "messages cannot contain control characters other than line breaks and tabs",
                ));
            }
            if content.trim().is_empty() {
                self.content = None;
            }
        }
        if self.kind == MessageType::Text && self.content.is_none() {
            return Err(AppError::validation("a text message needs some text"));
        }
        match (&self.media_url, self.kind.has_media()) {
            (Some(url), true) => self.media_url = Some(parse_url(url, "mediaUrl")?),
            (None, true) => {
                return Err(AppError::validation(
                    "image, audio and file messages need a mediaUrl",
                ));
            }
            (Some(_), false) => {
                return Err(AppError::validation(
                    "only image, audio and file messages have a mediaUrl",
                ));
            }
            (None, false) => {}
        }
        if let Some(metadata) = &self.metadata
            && metadata.to_string().len() > MAX_METADATA
        {
            return Err(AppError::validation(format!(
                "metadata is at most {MAX_METADATA} bytes"
            )));
        }
        if let Some(id) = &self.client_msg_id
            && (id.is_empty() || id.len() > 64 || id.chars().any(char::is_control))
        {
            return Err(AppError::validation("clientMsgId must be 1-64 characters"));
        }
        Ok(())
    }
}

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
        self.events()
            .publish(DomainEvent::MessageCreated {
                message: Arc::new(message.clone()),
                members: Arc::from(members),
            })
            .await;
        Ok(message)
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
        self.events()
            .publish(DomainEvent::MessageCreated {
                message: Arc::new(message.clone()),
                members: Arc::from(members),
            })
            .await;
        Ok(message)
    }

    /// A page of a conversation's messages as the actor sees them.
    pub async fn messages(
        &self,
        actor: &Actor,
        id: ConversationId,
        paging: Paging,
    ) -> AppResult<MessagePage> {
        let (conversation, me) = self.access(actor, id).await?;
        let tenant = conversation.tenant_id;
        let limit = paging.limit.clamp(1, 100);
        let mut conn = self.pool().acquire().await?;
        let mut messages = page(
            &mut conn,
            tenant,
            id,
            me.as_ref(),
            paging.before,
            paging.after,
            limit + 1,
        )
        .await?;
        let more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        Ok(MessagePage {
            conversation,
            set: MessageSet::of(&mut conn, tenant, messages).await?,
            more,
        })
    }

    /// What the actor has not had delivered: for each conversation with
    /// messages past their delivered cursor (the `conversations` most
    /// recently active), up to `per_conversation` of those messages.
    pub async fn undelivered(
        &self,
        actor: &Actor,
        conversations: u32,
        per_conversation: u32,
    ) -> AppResult<Vec<CatchUp>> {
        let (tenant, me) = actor.participant()?;
        let mut conn = self.pool().acquire().await?;
        let behind = conversation::behind(&mut conn, tenant, me, conversations).await?;
        let mut out = Vec::with_capacity(behind.len());
        for row in behind {
            let id = row.member.conversation_id;
            let mut messages = page(
                &mut conn,
                tenant,
                id,
                Some(&row.member),
                None,
                Some(row.member.delivered_seq),
                per_conversation + 1,
            )
            .await?;
            let more = messages.len() > per_conversation as usize;
            messages.truncate(per_conversation as usize);
            out.push(CatchUp {
                conversation: id,
                set: MessageSet::of(&mut conn, tenant, messages).await?,
                more,
                last_seq: row.last_seq,
            });
        }
        Ok(out)
    }

    /// A message the actor may see, with the conversation's members.
    async fn visible(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> AppResult<(Message, Conversation, Option<Member>)> {
        let tenant = actor.tenant()?;
        let message = get(&mut *self.pool().acquire().await?, tenant, id)
            .await?
            .ok_or_else(not_found)?;
        let (conversation, me) = self
            .access(actor, message.conversation_id)
            .await
            .map_err(|_| not_found())?;
        if let Some(me) = &me
            && message.seq <= me.cleared_seq
        {
            return Err(not_found());
        }
        Ok((message, conversation, me))
    }

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
        let (message, _, _) = self.visible(actor, id).await?;
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
            MessageType::Text | MessageType::Image | MessageType::Audio | MessageType::File
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
        let mut input = SendInput {
            kind: message.kind,
            content: Some(content),
            media_url: message.media_url.clone(),
            metadata: None,
            reply_to: None,
            client_msg_id: None,
        };
        input.validate(settings.max_message_chars)?;
        let now = crate::domain::now();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE messages SET content = ?, edited_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(&input.content)
        .bind(now)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let edited = get(&mut tx, tenant, id).await?.ok_or_else(not_found)?;
        refresh_preview(&mut tx, &edited).await?;
        tx.commit().await?;
        self.publish_change(&edited, |message, members| DomainEvent::MessageEdited {
            message,
            members,
        })
        .await?;
        MessageSet::of(&mut *self.pool().acquire().await?, tenant, vec![edited]).await
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
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE messages SET content = NULL, media_url = NULL, metadata = NULL, deleted_at = COALESCE(deleted_at, ?)
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(crate::domain::now())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM message_reactions WHERE tenant_id = ? AND message_id = ?")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = get(&mut tx, tenant, id).await?.ok_or_else(not_found)?;
        refresh_preview(&mut tx, &deleted).await?;
        tx.commit().await?;
        self.publish_change(&deleted, |message, members| DomainEvent::MessageDeleted {
            message,
            members,
            for_everyone: true,
        })
        .await?;
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

    /// Full-text search over the actor's conversations (or one of them).
    pub async fn search_messages(
        &self,
        actor: &Actor,
        text: &str,
        conversation: Option<ConversationId>,
        limit: u32,
    ) -> AppResult<MessageSet> {
        let (tenant, me) = actor.participant()?;
        if text.trim().is_empty() || text.chars().count() > 200 {
            return Err(AppError::validation("search for 1-200 characters"));
        }
        if let Some(conversation) = conversation {
            self.membership(actor, conversation).await?;
        }
        let mut conn = self.pool().acquire().await?;
        let found = search(
            &mut conn,
            tenant,
            me,
            conversation,
            text,
            limit.clamp(1, 100),
        )
        .await?;
        MessageSet::of(&mut conn, tenant, found).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: MessageType, content: Option<&str>, media: Option<&str>) -> SendInput {
        SendInput {
            kind,
            content: content.map(str::to_owned),
            media_url: media.map(str::to_owned),
            metadata: None,
            reply_to: None,
            client_msg_id: None,
        }
    }

    #[test]
    fn text_needs_text_and_media_needs_a_url() {
        assert!(
            input(MessageType::Text, Some("  "), None)
                .validate(10)
                .is_err()
        );
        assert!(
            input(MessageType::Text, Some("hello"), None)
                .validate(10)
                .is_ok()
        );
        assert!(
            input(MessageType::Text, Some("hello world"), None)
                .validate(10)
                .is_err()
        );
        assert!(input(MessageType::Image, None, None).validate(10).is_err());
        assert!(
            input(MessageType::Image, None, Some("https://cdn.example/a.png"))
                .validate(10)
                .is_ok()
        );
        assert!(
            input(
                MessageType::Text,
                Some("hi"),
                Some("https://cdn.example/a.png")
            )
            .validate(10)
            .is_err()
        );
    }

    #[test]
    fn content_is_stored_exactly_as_sent() {
        let mut sent = input(MessageType::Text, Some("  <b>hi</b>\n"), None);
        sent.validate(100).unwrap();
        assert_eq!(sent.content.as_deref(), Some("  <b>hi</b>\n"));
    }
}
