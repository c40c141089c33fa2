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
//!
//! Types and SQL here; the use cases in `service`.

mod service;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};

use super::{
    ChatRequestId, ConsultationId, ParticipantId, TenantId,
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

/// A consultation's columns, as [`Consultation`] reads them.
pub(crate) const CONSULTATION_COLUMNS: &str =
    "tenant_id, id, user_id, astrologer_id, status, external_id, created_at, updated_at";
/// A chat request's columns, as [`ChatRequest`] reads them.
pub(crate) const REQUEST_COLUMNS: &str =
    "tenant_id, id, from_id, to_id, status, note, created_at, answered_at";

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

/// A consultation of the tenant.
pub(crate) async fn get_consultation(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ConsultationId,
) -> AppResult<Option<Consultation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// A chat request of the tenant; `lock` takes its row for an update.
pub(crate) async fn request(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ChatRequestId,
    lock: bool,
) -> AppResult<Option<ChatRequest>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    Ok(sqlx::query_as(&format!(
        "SELECT {REQUEST_COLUMNS} FROM chat_requests WHERE tenant_id = ? AND id = ?{lock}"
    ))
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
