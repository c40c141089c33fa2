//! Erasure: a participant is forgotten for good. Their profile becomes
//! "Deleted user" (email, phone, avatar, status, password and old-app id
//! gone), they are blocked (every session revoked), their devices, inbox,
//! preferences and files go, their contact flags go and the details of
//! their reports are cleared; their messages are deleted for everyone
//! (their place in each conversation kept: seqs, unread counts and the
//! other members' view stay consistent) or, with the tenant's
//! `erasedMessages: keep`, kept under "Deleted user". Irreversible,
//! audited, and idempotent: erasing again finishes what an interrupted
//! erasure left and changes nothing else.
//!
//! A participant may ask for it themselves (`request_erasure`); the
//! tenant's admins see the requests and confirm (erasing settles them) or
//! decline.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ErasedMessages;
use crate::{
    domain::{
        Actor, Core, MessageId, ParticipantId, audit,
        events::DomainEvent,
        participant::{self, Participant},
    },
    error::{AppError, AppResult},
};

/// The name an erased participant shows under.
pub const ERASED_NAME: &str = "Deleted user";
/// Messages tombstoned per look.
const BATCH: u32 = 200;

/// A participant's request to be erased.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErasureRequest {
    pub id: Uuid,
    pub participant_id: ParticipantId,
    pub reason: Option<String>,
    /// `pending`, `done` or `declined`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, participant_id, reason, status, created_at, settled_at";

impl Core {
    /// The actor asks to be erased; a pending request is returned again.
    pub async fn request_erasure(
        &self,
        actor: &Actor,
        reason: Option<String>,
    ) -> AppResult<ErasureRequest> {
        let (tenant, me) = actor.participant()?;
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
            return Err(AppError::validation("reason is longer than 500 characters"));
        }
        let mut tx = self.pool().begin().await?;
        let pending: Option<ErasureRequest> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM erasure_requests
             WHERE tenant_id = ? AND participant_id = ? AND status = 'pending' FOR UPDATE"
        ))
        .bind(tenant)
        .bind(me)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(pending) = pending {
            return Ok(pending);
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO erasure_requests (tenant_id, id, participant_id, reason, status, created_at)
             VALUES (?, ?, ?, ?, 'pending', ?)",
        )
        .bind(tenant)
        .bind(id)
        .bind(me)
        .bind(&reason)
        .bind(crate::domain::now())
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "participant.erasure_request")
                .target("participant", me.0),
        )
        .await?;
        let made = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM erasure_requests WHERE tenant_id = ? AND id = ?"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(made)
    }

    /// The tenant's erasure requests, newest first, optionally one status.
    pub async fn erasure_requests(
        &self,
        actor: &Actor,
        status: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<ErasureRequest>> {
        let tenant = actor.tenant()?;
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM erasure_requests WHERE tenant_id = ? AND (? IS NULL OR status = ?)
             ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .bind(tenant)
        .bind(status)
        .bind(status)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Turns a pending request down (audited); the participant stays.
    pub async fn decline_erasure(&self, actor: &Actor, id: Uuid) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE erasure_requests SET status = 'declined', settled_at = ?, settled_by = ?
             WHERE tenant_id = ? AND id = ? AND status = 'pending'",
        )
        .bind(crate::domain::now())
        .bind(actor.participant().ok().map(|(_, p)| p))
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(AppError::NotFound("erasure request"));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "participant.erasure_decline")
                .target("erasure_request", id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Erases a participant of the actor's tenant (see the module's notes).
    #[tracing::instrument(skip_all, fields(participant = %id))]
    pub async fn erase_participant(
        &self,
        actor: &Actor,
        id: ParticipantId,
    ) -> AppResult<Participant> {
        let tenant = actor.tenant()?;
        if actor.id == id.0 {
            return Err(AppError::conflict(
                "cannot_erase_self",
                "an admin cannot erase themselves",
            ));
        }
        let target = self.participant(tenant, id).await?;
        let (already,): (bool,) = sqlx::query_as(
            "SELECT erased_at IS NOT NULL FROM participants WHERE tenant_id = ? AND id = ?",
        )
        .bind(tenant)
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        if !target.blocked {
            // Sessions end at once, on every node.
            self.set_participant_blocked(actor, id, true).await?;
        }
        // Workers write the same rows (the inbox, pushes): a deadlock's
        // victim is simply run again.
        let mut attempt = 0;
        loop {
            match self.anonymise(actor, tenant, id, already).await {
                Err(err) if err.is_deadlock() && attempt < 3 => attempt += 1,
                done => break done?,
            }
        }
        self.media_wakeup().notify_one();
        if self.settings_of(tenant).await?.erased_messages == ErasedMessages::Tombstone {
            loop {
                // The oldest first, handed over in conversation order.
                let ids: Vec<MessageId> = sqlx::query_scalar(
                    "SELECT id FROM (
                         SELECT id, conversation_id, seq FROM messages
                         WHERE tenant_id = ? AND sender_id = ? AND deleted_at IS NULL
                         ORDER BY created_at LIMIT ?
                     ) oldest ORDER BY conversation_id, seq",
                )
                .bind(tenant)
                .bind(id)
                .bind(BATCH)
                .fetch_all(self.pool())
                .await?;
                // One transaction per batch, run again as a deadlock's victim.
                if let Err(err) = self.tombstone_many(tenant, &ids).await {
                    if !err.is_deadlock() {
                        return Err(err);
                    }
                    self.tombstone_many(tenant, &ids).await?;
                }
                if ids.len() < BATCH as usize {
                    break;
                }
            }
        }
        self.events()
            .publish(DomainEvent::ParticipantUpdated {
                tenant,
                participant: id,
            })
            .await;
        let mut conn = self.pool().acquire().await?;
        participant::get(&mut conn, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))
    }

    /// The erasure's one transaction: the row anonymised, what hangs off
    /// it deleted, pending requests settled, the audit entry.
    async fn anonymise(
        &self,
        actor: &Actor,
        tenant: crate::domain::TenantId,
        id: ParticipantId,
        already: bool,
    ) -> AppResult<()> {
        let now = crate::domain::now();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE participants SET name = ?, email = NULL, email_verified_at = NULL, phone = NULL,
                 phone_verified_at = NULL, avatar_url = NULL, status_text = NULL,
                 password_hash = NULL, legacy_id = NULL, blocked = TRUE,
                 erased_at = COALESCE(erased_at, ?), updated_at = ?
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(ERASED_NAME)
        .bind(now)
        .bind(now)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM devices WHERE tenant_id = ? AND participant_id = ?",
            "DELETE FROM notifications WHERE tenant_id = ? AND participant_id = ?",
            "DELETE FROM notification_preferences WHERE tenant_id = ? AND participant_id = ?",
            "DELETE FROM notification_digests WHERE tenant_id = ? AND participant_id = ?",
            "DELETE FROM contact_flags WHERE tenant_id = ? AND sender_id = ?",
            "UPDATE reports SET details = NULL WHERE tenant_id = ? AND reporter_id = ?",
            "UPDATE files SET state = 'deleted' WHERE tenant_id = ? AND uploader_id = ?",
        ] {
            sqlx::query(sql)
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE erasure_requests SET status = 'done', settled_at = ?, settled_by = ?
             WHERE tenant_id = ? AND participant_id = ? AND status = 'pending'",
        )
        .bind(now)
        .bind(actor.participant().ok().map(|(_, p)| p))
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "participant.erase")
                .target("participant", id.0)
                .detail(serde_json::json!({ "alreadyErased": already })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
