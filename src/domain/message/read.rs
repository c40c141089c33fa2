//! Reading messages on [`Core`]: a page of a conversation, what a
//! participant has not had delivered (catch-up), search, and the one-message
//! visibility rule the other use cases share.

use sqlx::MySqlConnection;

use super::{Message, Reaction, get, page, reactions_of, search};
use crate::{
    domain::{
        Actor, ConversationId, Core, MessageId, TenantId,
        conversation::{self, Conversation, Member, MemberInfo},
    },
    error::{AppError, AppResult},
};

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

impl Core {
    /// Loads the reactions, members and files `messages` are shown with.
    pub(super) async fn message_set(
        &self,
        conn: &mut MySqlConnection,
        tenant: TenantId,
        mut messages: Vec<Message>,
    ) -> AppResult<MessageSet> {
        self.attach_with(conn, tenant, &mut messages).await?;
        let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
        let mut conversations: Vec<ConversationId> =
            messages.iter().map(|m| m.conversation_id).collect();
        conversations.sort_by_key(|c| c.0);
        conversations.dedup();
        Ok(MessageSet {
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

pub(super) fn not_found() -> AppError {
    AppError::NotFound("message")
}

impl Core {
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
            set: self.message_set(&mut conn, tenant, messages).await?,
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
        let behind =
            conversation::Behind::first_behind(self.memberships(actor).await?, conversations);
        self.catch_up(actor, behind, per_conversation).await
    }

    /// Up to `per_conversation` messages past the delivered cursor of each
    /// membership in `behind` (read by [`Core::undelivered`], or by
    /// [`Core::memberships`] at a socket's connect).
    pub async fn catch_up(
        &self,
        actor: &Actor,
        behind: Vec<conversation::Behind>,
        per_conversation: u32,
    ) -> AppResult<Vec<CatchUp>> {
        let tenant = actor.tenant()?;
        if behind.is_empty() {
            return Ok(vec![]);
        }
        let mut conn = self.pool().acquire().await?;
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
                set: self.message_set(&mut conn, tenant, messages).await?,
                more,
                last_seq: row.last_seq,
            });
        }
        Ok(out)
    }

    /// A message the actor may see, with the conversation's members.
    pub(crate) async fn visible(
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
        self.message_set(&mut conn, tenant, found).await
    }
}
