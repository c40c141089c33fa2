//! Relationship use cases on [`Core`]: consultations (recorded by the
//! tenant's backend), chat requests and their answers, blocks.

use sqlx::{QueryBuilder, Row};

use super::{
    CONSULTATION_COLUMNS, ChatRequest, ChatRequestStatus, Consultation, ConsultationFilter,
    ConsultationStatus, Direction, REQUEST_COLUMNS, blocked_between, forbidden, get_consultation,
    of_kind, request,
};
use crate::{
    domain::{
        Actor, ChatRequestId, ConsultationId, Core, Page, ParticipantId, audit, cursor,
        events::DomainEvent,
        log::{self, LogKind, NewEntry},
        participant::{self, ParticipantType},
    },
    error::{AppError, AppResult},
};

impl Core {
    /// Records (or, with a known `external_id`, updates) a consultation: the
    /// relationship fact the messaging rules read. The tenant's backend does
    /// this through the API (admins, or API keys with `write`).
    pub async fn record_consultation(
        &self,
        actor: &Actor,
        user: ParticipantId,
        astrologer: ParticipantId,
        status: ConsultationStatus,
        external_id: Option<String>,
    ) -> AppResult<Consultation> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        of_kind(&mut tx, tenant, user, ParticipantType::User).await?;
        of_kind(&mut tx, tenant, astrologer, ParticipantType::Astrologer).await?;
        let now = crate::domain::now();
        let id = ConsultationId::new();
        sqlx::query(
            "INSERT INTO consultations (tenant_id, id, user_id, astrologer_id, status, external_id, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE status = VALUES(status), updated_at = VALUES(updated_at)",
        )
        .bind(tenant)
        .bind(id)
        .bind(user)
        .bind(astrologer)
        .bind(status)
        .bind(&external_id)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let recorded: Consultation = match &external_id {
            Some(external) => sqlx::query_as(&format!(
                "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE tenant_id = ? AND external_id = ?"
            ))
            .bind(tenant)
            .bind(external)
            .fetch_one(&mut *tx)
            .await?,
            None => get_consultation(&mut tx, tenant, id).await?.ok_or(AppError::NotFound("consultation"))?,
        };
        if recorded.user_id != user || recorded.astrologer_id != astrologer {
            return Err(AppError::conflict(
                "external_id_taken",
                "a consultation with this externalId exists between other participants",
            ));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "consultation.record")
                .target("consultation", recorded.id.0)
                .detail(serde_json::json!({ "status": status.as_str() })),
        )
        .await?;
        log::append(
            &mut tx,
            &[NewEntry::new(
                tenant,
                LogKind::ConsultationUpdated,
                recorded.id,
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// Changes a consultation's status.
    pub async fn set_consultation_status(
        &self,
        actor: &Actor,
        id: ConsultationId,
        status: ConsultationStatus,
    ) -> AppResult<Consultation> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE consultations SET status = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(status)
        .bind(crate::domain::now())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(AppError::NotFound("consultation"));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "consultation.status")
                .target("consultation", id.0)
                .detail(serde_json::json!({ "status": status.as_str() })),
        )
        .await?;
        let updated = get_consultation(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("consultation"))?;
        log::append(
            &mut tx,
            &[NewEntry::new(tenant, LogKind::ConsultationUpdated, id)],
        )
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Consultations the actor may see: all of the tenant for admins and
    /// keys; their own for users and astrologers. Newest first.
    pub async fn consultations(
        &self,
        actor: &Actor,
        filter: &ConsultationFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Consultation>> {
        let tenant = actor.tenant()?;
        let mut filter = filter.clone();
        match actor.role {
            crate::domain::Role::User => filter.user = Some(ParticipantId(actor.id)),
            crate::domain::Role::Astrologer => filter.astrologer = Some(ParticipantId(actor.id)),
            _ => {}
        }
        let before: Option<ConsultationId> = cursor.map(cursor::decode).transpose()?;
        let mut query = QueryBuilder::new(format!(
            "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE tenant_id = "
        ));
        query.push_bind(tenant);
        if let Some(user) = filter.user {
            query.push(" AND user_id = ").push_bind(user);
        }
        if let Some(astrologer) = filter.astrologer {
            query.push(" AND astrologer_id = ").push_bind(astrologer);
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status);
        }
        if let Some(before) = before {
            query.push(" AND id < ").push_bind(before);
        }
        query.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
        let rows: Vec<Consultation> = query.build_query_as().fetch_all(self.pool()).await?;
        Ok(cursor::page(rows, limit, |c| c.id))
    }

    /// A user asks an astrologer to chat. A pending request to the same
    /// astrologer is returned instead of a second one.
    pub async fn request_chat(
        &self,
        actor: &Actor,
        to: ParticipantId,
        note: Option<String>,
    ) -> AppResult<ChatRequest> {
        let (tenant, me) = actor.participant()?;
        let mut tx = self.pool().begin().await?;
        let from = participant::get(&mut tx, tenant, me)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        let target = participant::get(&mut tx, tenant, to)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        if from.kind != ParticipantType::User || target.kind != ParticipantType::Astrologer {
            return Err(forbidden(
                "not_allowed",
                "chat requests go from users to astrologers",
            ));
        }
        if target.blocked || blocked_between(&mut tx, tenant, me, to).await? {
            return Err(forbidden("blocked", "this astrologer cannot be reached"));
        }
        let pending: Option<ChatRequest> = sqlx::query_as(&format!(
            "SELECT {REQUEST_COLUMNS} FROM chat_requests
             WHERE tenant_id = ? AND from_id = ? AND to_id = ? AND status = 'pending' LIMIT 1 FOR UPDATE"
        ))
        .bind(tenant)
        .bind(me)
        .bind(to)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(pending) = pending {
            return Ok(pending);
        }
        let request = ChatRequest {
            tenant_id: tenant,
            id: ChatRequestId::new(),
            from_id: me,
            to_id: to,
            status: ChatRequestStatus::Pending,
            note,
            created_at: crate::domain::now(),
            answered_at: None,
        };
        sqlx::query(
            "INSERT INTO chat_requests (tenant_id, id, from_id, to_id, status, note, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(request.id)
        .bind(me)
        .bind(to)
        .bind(request.status)
        .bind(&request.note)
        .bind(request.created_at)
        .execute(&mut *tx)
        .await?;
        log::append(
            &mut tx,
            &[NewEntry::new(
                tenant,
                LogKind::ChatRequestCreated,
                request.id,
            )],
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::ChatRequestCreated {
                request: std::sync::Arc::new(request.clone()),
            })
            .await;
        Ok(request)
    }

    /// The actor's chat requests, received or sent, newest first.
    pub async fn chat_requests(
        &self,
        actor: &Actor,
        direction: Direction,
        status: Option<ChatRequestStatus>,
    ) -> AppResult<Vec<ChatRequest>> {
        let (tenant, me) = actor.participant()?;
        let column = match direction {
            Direction::Incoming => "to_id",
            Direction::Outgoing => "from_id",
        };
        let mut query = QueryBuilder::new(format!(
            "SELECT {REQUEST_COLUMNS} FROM chat_requests WHERE tenant_id = "
        ));
        query
            .push_bind(tenant)
            .push(format!(" AND {column} = "))
            .push_bind(me);
        if let Some(status) = status {
            query.push(" AND status = ").push_bind(status);
        }
        query.push(" ORDER BY id DESC LIMIT 200");
        Ok(query.build_query_as().fetch_all(self.pool()).await?)
    }

    /// The astrologer accepts or declines a pending request addressed to
    /// them. Accepting opens (or finds) their conversation with the user.
    pub async fn answer_chat_request(
        &self,
        actor: &Actor,
        id: ChatRequestId,
        accept: bool,
    ) -> AppResult<(
        ChatRequest,
        Option<crate::domain::conversation::Conversation>,
    )> {
        let (tenant, me) = actor.participant()?;
        let mut tx = self.pool().begin().await?;
        let Some(mut request) = request(&mut tx, tenant, id, true).await? else {
            return Err(AppError::NotFound("chat request"));
        };
        if request.to_id != me {
            // The sender (or anyone else) cannot answer: as if it did not exist.
            return Err(AppError::NotFound("chat request"));
        }
        if request.status != ChatRequestStatus::Pending {
            return Err(AppError::conflict(
                "already_answered",
                "this chat request was already answered",
            ));
        }
        request.status = if accept {
            ChatRequestStatus::Accepted
        } else {
            ChatRequestStatus::Declined
        };
        request.answered_at = Some(crate::domain::now());
        sqlx::query(
            "UPDATE chat_requests SET status = ?, answered_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(request.status)
        .bind(request.answered_at)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        log::append(
            &mut tx,
            &[NewEntry::new(tenant, LogKind::ChatRequestAnswered, id)],
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::ChatRequestAnswered {
                request: std::sync::Arc::new(request.clone()),
            })
            .await;
        let conversation = if accept {
            let direct = crate::domain::conversation::DirectKey::general(request.from_id);
            Some(self.open_direct(actor, direct).await?)
        } else {
            None
        };
        Ok((request, conversation))
    }

    /// The actor blocks another participant: neither can message or call
    /// the other until unblocked. Blocking twice is fine.
    pub async fn block(&self, actor: &Actor, target: ParticipantId) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        if target == me {
            return Err(AppError::validation("you cannot block yourself"));
        }
        let mut tx = self.pool().begin().await?;
        participant::get(&mut tx, tenant, target)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        sqlx::query("INSERT IGNORE INTO blocks (tenant_id, blocker_id, blocked_id, created_at) VALUES (?, ?, ?, ?)")
            .bind(tenant)
            .bind(me)
            .bind(target)
            .bind(crate::domain::now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts the actor's block of a participant. Unblocking someone not
    /// blocked is fine; unblocking someone who does not exist is a 404.
    pub async fn unblock(&self, actor: &Actor, target: ParticipantId) -> AppResult<()> {
        let (tenant, me) = actor.participant()?;
        let mut conn = self.pool().acquire().await?;
        let lifted = sqlx::query(
            "DELETE FROM blocks WHERE tenant_id = ? AND blocker_id = ? AND blocked_id = ?",
        )
        .bind(tenant)
        .bind(me)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if lifted == 0 {
            participant::get(&mut conn, tenant, target)
                .await?
                .ok_or(AppError::NotFound("participant"))?;
        }
        Ok(())
    }

    /// The participants the actor has blocked.
    pub async fn blocked_by(&self, actor: &Actor) -> AppResult<Vec<ParticipantId>> {
        let (tenant, me) = actor.participant()?;
        let rows = sqlx::query("SELECT blocked_id FROM blocks WHERE tenant_id = ? AND blocker_id = ? ORDER BY created_at DESC")
            .bind(tenant)
            .bind(me)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("blocked_id")?))
            .collect()
    }
}
