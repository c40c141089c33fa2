//! What a member sets for themself on [`Core`]: the delivered and read
//! cursors (receipts), mute, and delete-for-me of a whole conversation.

use std::sync::Arc;

use super::{Member, advance_cursors, member, member_ids, service::not_found};
use crate::{
    domain::{Actor, ConversationId, Core, MessageId, events::DomainEvent},
    error::{AppError, AppResult},
};

impl Core {
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
}
