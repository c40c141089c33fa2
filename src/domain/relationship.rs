//! Who may talk to whom (seed 004), and the facts that decide it.
//!
//! - Admins may message and call any astrologer of their tenant, and
//!   astrologers their admins.
//! - An astrologer may talk to a user they serve; a user may talk to an
//!   astrologer they consult: a consultation between the two (recorded by
//!   the tenant's backend, any status but cancelled) or an accepted chat
//!   request says so.
//! - Nobody may talk to someone who blocked them, or whom they blocked.
//!
//! Everything else (user to user, astrologer to astrologer) goes through
//! groups, which admins create. These rules live here, in the core, so the
//! REST API, Socket.IO and the console apply the same ones.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, QueryBuilder, Row};

use super::{
    Actor, ChatRequestId, ConsultationId, Core, Page, ParticipantId, TenantId, audit, cursor,
    events::DomainEvent,
    participant::{self, Participant, ParticipantType},
};
use crate::error::{AppError, AppResult};

/// Where a consultation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultationStatus {
    Requested,
    Active,
    Completed,
    Cancelled,
}

super::text_enum!(ConsultationStatus {
    Requested => "requested",
    Active => "active",
    Completed => "completed",
    Cancelled => "cancelled",
});

impl ConsultationStatus {
    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::from_str_opt(raw.trim()).ok_or_else(|| {
            AppError::validation("status must be requested, active, completed or cancelled")
        })
    }
}

/// A consultation between a user and an astrologer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Consultation {
    pub tenant_id: TenantId,
    pub id: ConsultationId,
    pub user_id: ParticipantId,
    pub astrologer_id: ParticipantId,
    pub status: ConsultationStatus,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a chat request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRequestStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
}

super::text_enum!(ChatRequestStatus {
    Pending => "pending",
    Accepted => "accepted",
    Declined => "declined",
    Cancelled => "cancelled",
});

/// A request to chat, from a user to an astrologer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatRequest {
    pub tenant_id: TenantId,
    pub id: ChatRequestId,
    pub from_id: ParticipantId,
    pub to_id: ParticipantId,
    pub status: ChatRequestStatus,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

fn forbidden(code: &'static str, message: &str) -> AppError {
    AppError::Forbidden {
        code,
        message: message.into(),
    }
}

/// Whether `user` and `astrologer` have a consultation (not cancelled) or
/// an accepted chat request.
pub async fn related(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    user: ParticipantId,
    astrologer: ParticipantId,
) -> AppResult<bool> {
    let row = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM consultations
                        WHERE tenant_id = ? AND user_id = ? AND astrologer_id = ? AND status <> 'cancelled')
             OR EXISTS (SELECT 1 FROM chat_requests
                        WHERE tenant_id = ? AND status = 'accepted'
                          AND ((from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?))) AS related",
    )
    .bind(tenant)
    .bind(user)
    .bind(astrologer)
    .bind(tenant)
    .bind(user)
    .bind(astrologer)
    .bind(astrologer)
    .bind(user)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("related")? != 0)
}

/// Whether either of the two blocked the other.
pub async fn blocked_between(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    a: ParticipantId,
    b: ParticipantId,
) -> AppResult<bool> {
    let row = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE tenant_id = ?
                        AND ((blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?))) AS blocked",
    )
    .bind(tenant)
    .bind(a)
    .bind(b)
    .bind(b)
    .bind(a)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("blocked")? != 0)
}

/// Refuses unless `from` may message and call `to` (see the module docs).
pub async fn may_contact(
    conn: &mut MySqlConnection,
    from: &Participant,
    to: &Participant,
) -> AppResult<()> {
    let tenant = from.tenant_id;
    if from.id == to.id {
        return Err(AppError::validation(
            "you cannot start a conversation with yourself",
        ));
    }
    if to.blocked {
        return Err(forbidden(
            "unavailable",
            "this participant is not available",
        ));
    }
    if blocked_between(conn, tenant, from.id, to.id).await? {
        return Err(forbidden("blocked", "one of you has blocked the other"));
    }
    use ParticipantType::*;
    let allowed = match (from.kind, to.kind) {
        (Admin, Astrologer) | (Astrologer, Admin) => true,
        (User, Astrologer) => related(conn, tenant, from.id, to.id).await?,
        (Astrologer, User) => related(conn, tenant, to.id, from.id).await?,
        _ => {
            return Err(forbidden(
                "not_allowed",
                "direct conversations are between admins and astrologers, or users and their astrologers",
            ));
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(forbidden(
            "no_relationship",
            "you may message this astrologer after a consultation or an accepted chat request",
        ))
    }
}

async fn get_consultation(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ConsultationId,
) -> AppResult<Option<Consultation>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id, user_id, astrologer_id, status, external_id, created_at, updated_at
         FROM consultations WHERE tenant_id = ? AND id = ?",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

async fn get_request(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ChatRequestId,
) -> AppResult<Option<ChatRequest>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id, from_id, to_id, status, note, created_at, answered_at
         FROM chat_requests WHERE tenant_id = ? AND id = ? FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// A participant of the tenant who must be of `kind` (else 422).
async fn of_kind(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
    kind: ParticipantType,
) -> AppResult<Participant> {
    let found = participant::get(conn, tenant, id)
        .await?
        .ok_or(AppError::NotFound("participant"))?;
    if found.kind != kind {
        return Err(AppError::validation(format!(
            "{} is not a {}",
            id,
            kind.as_str()
        )));
    }
    Ok(found)
}

/// Filter of a consultation listing.
#[derive(Debug, Default, Clone)]
pub struct ConsultationFilter {
    pub user: Option<ParticipantId>,
    pub astrologer: Option<ParticipantId>,
    pub status: Option<ConsultationStatus>,
}

/// Which chat requests to list: received or sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

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
        let now = super::now();
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
            Some(external) => sqlx::query_as(
                "SELECT tenant_id, id, user_id, astrologer_id, status, external_id, created_at, updated_at
                 FROM consultations WHERE tenant_id = ? AND external_id = ?",
            )
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
        .bind(super::now())
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
            super::Role::User => filter.user = Some(ParticipantId(actor.id)),
            super::Role::Astrologer => filter.astrologer = Some(ParticipantId(actor.id)),
            _ => {}
        }
        let before: Option<ConsultationId> = cursor.map(cursor::decode).transpose()?;
        let mut query = QueryBuilder::new(
            "SELECT tenant_id, id, user_id, astrologer_id, status, external_id, created_at, updated_at
             FROM consultations WHERE tenant_id = ",
        );
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
        let pending: Option<ChatRequest> = sqlx::query_as(
            "SELECT tenant_id, id, from_id, to_id, status, note, created_at, answered_at FROM chat_requests
             WHERE tenant_id = ? AND from_id = ? AND to_id = ? AND status = 'pending' LIMIT 1 FOR UPDATE",
        )
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
            created_at: super::now(),
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
        let mut query = QueryBuilder::new(
            "SELECT tenant_id, id, from_id, to_id, status, note, created_at, answered_at
             FROM chat_requests WHERE tenant_id = ",
        );
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
    ) -> AppResult<(ChatRequest, Option<super::conversation::Conversation>)> {
        let (tenant, me) = actor.participant()?;
        let mut tx = self.pool().begin().await?;
        let Some(mut request) = get_request(&mut tx, tenant, id).await? else {
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
        request.answered_at = Some(super::now());
        sqlx::query(
            "UPDATE chat_requests SET status = ?, answered_at = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(request.status)
        .bind(request.answered_at)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::ChatRequestAnswered {
                request: std::sync::Arc::new(request.clone()),
            })
            .await;
        let conversation = if accept {
            let direct = super::conversation::DirectKey::general(request.from_id);
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
            .bind(super::now())
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
