//! Announcements from a tenant's admins (or an API key allowed to write
//! participants): to all its users, all its astrologers, or one
//! participant. Stored and logged (`broadcast.sent`) in one transaction;
//! the notifications worker reads the log and makes each recipient's inbox
//! entry and push, so a crash loses none.

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;
use uuid::Uuid;

use crate::{
    domain::{
        Actor, Core, ParticipantId, TenantId, audit,
        log::{self, LogKind, NewEntry},
        participant,
    },
    error::{AppError, AppResult},
};

/// Who hears a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Users,
    Astrologers,
    Participant,
}

crate::domain::text_enum!(Audience {
    Users => "users",
    Astrologers => "astrologers",
    Participant => "participant",
});

/// A broadcast row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Broadcast {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub audience: Audience,
    pub participant_id: Option<ParticipantId>,
    pub title: String,
    pub body: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "tenant_id, id, audience, participant_id, title, body, created_by, created_at";

/// Longest broadcast text, in characters.
pub const MAX_BODY: usize = 1000;

pub async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<Broadcast>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM broadcasts WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Who a broadcast reaches: the tenant's participants of its audience
/// (blocked accounts left out).
pub async fn audience(
    conn: &mut MySqlConnection,
    b: &Broadcast,
) -> sqlx::Result<Vec<ParticipantId>> {
    let kind = match b.audience {
        Audience::Participant => return Ok(b.participant_id.into_iter().collect()),
        Audience::Users => "user",
        Audience::Astrologers => "astrologer",
    };
    sqlx::query_scalar(
        "SELECT id FROM participants WHERE tenant_id = ? AND type = ? AND NOT blocked",
    )
    .bind(b.tenant_id)
    .bind(kind)
    .fetch_all(conn)
    .await
}

impl Core {
    /// Sends a broadcast; `title` defaults to the tenant's name.
    pub async fn broadcast(
        &self,
        actor: &Actor,
        audience: Audience,
        participant: Option<ParticipantId>,
        title: Option<&str>,
        body: &str,
    ) -> AppResult<Broadcast> {
        let tenant = actor.tenant()?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_BODY {
            return Err(AppError::validation(format!(
                "body must be 1-{MAX_BODY} characters"
            )));
        }
        let title = match title.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) if t.chars().count() > 120 => {
                return Err(AppError::validation("title must be at most 120 characters"));
            }
            Some(t) => t.to_owned(),
            None => self.tenant(tenant).await?.name,
        };
        let mut tx = self.pool().begin().await?;
        let participant = match (audience, participant) {
            (Audience::Participant, Some(id)) => {
                participant::get(&mut tx, tenant, id)
                    .await?
                    .ok_or(AppError::NotFound("participant"))?;
                Some(id)
            }
            (Audience::Participant, None) => {
                return Err(AppError::validation(
                    "participantId is required for the audience `participant`",
                ));
            }
            (_, Some(_)) => {
                return Err(AppError::validation(
                    "participantId goes only with the audience `participant`",
                ));
            }
            (_, None) => None,
        };
        let b = Broadcast {
            tenant_id: tenant,
            id: Uuid::now_v7(),
            audience,
            participant_id: participant,
            title,
            body: body.to_owned(),
            created_by: Some(actor.id),
            created_at: crate::domain::now(),
        };
        sqlx::query(&format!(
            "INSERT INTO broadcasts ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(b.tenant_id)
        .bind(b.id)
        .bind(b.audience)
        .bind(b.participant_id)
        .bind(&b.title)
        .bind(&b.body)
        .bind(b.created_by)
        .bind(b.created_at)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "notifications.broadcast").target("broadcast", b.id),
        )
        .await?;
        log::append(
            &mut tx,
            &[NewEntry::new(tenant, LogKind::BroadcastSent, b.id)],
        )
        .await?;
        tx.commit().await?;
        Ok(b)
    }

    /// The tenant's newest broadcasts.
    pub async fn broadcasts(&self, actor: &Actor, limit: u32) -> AppResult<Vec<Broadcast>> {
        let tenant = actor.tenant()?;
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM broadcasts WHERE tenant_id = ?
             ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .bind(tenant)
        .bind(limit.min(200))
        .fetch_all(self.pool())
        .await?)
    }
}
