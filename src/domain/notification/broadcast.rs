//! Announcements from a tenant's admins (or an API key allowed to write
//! participants): to all its users, all its astrologers, or one
//! participant. Stored and logged (`broadcast.sent`) in one transaction;
//! the notifications worker reads the log and makes each recipient's inbox
//! entry and push, so a crash loses none.

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;
use uuid::Uuid;

use super::{NewNotification, NotificationKind};
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
    /// How far its fan-out got (the last recipient done).
    pub fanout_after: Option<ParticipantId>,
}

const COLUMNS: &str =
    "tenant_id, id, audience, participant_id, title, body, created_by, created_at, fanout_after";

/// Longest broadcast text, in characters (an inbox entry's body).
pub const MAX_BODY: usize = 255;

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

/// The next recipients of a broadcast's inbox entries, at most `chunk`:
/// the tenant's participants of its audience (blocked accounts left out),
/// by id after the last chunk done. Returns them as notifications to make,
/// and whether that was the last chunk; if not, records how far it got,
/// in the caller's transaction (the one that moves the log's checkpoint).
pub(super) async fn next_recipients(
    conn: &mut MySqlConnection,
    entry: &log::Entry,
    chunk: u32,
) -> sqlx::Result<(Vec<NewNotification>, bool)> {
    let Some(b) = get(conn, entry.tenant_id, entry.subject_id).await? else {
        return Ok((vec![], true));
    };
    let kind = match b.audience {
        Audience::Participant => None,
        Audience::Users => Some("user"),
        Audience::Astrologers => Some("astrologer"),
    };
    let (ids, done): (Vec<ParticipantId>, bool) = match kind {
        None => (b.participant_id.into_iter().collect(), true),
        Some(kind) => {
            let ids: Vec<ParticipantId> = sqlx::query_scalar(
                "SELECT id FROM participants WHERE tenant_id = ? AND type = ? AND NOT blocked
                 AND id > COALESCE(?, 0x0) ORDER BY id LIMIT ?",
            )
            .bind(b.tenant_id)
            .bind(kind)
            .bind(b.fanout_after)
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await?;
            let done = (ids.len() as u32) < chunk;
            if let (false, Some(last)) = (done, ids.last()) {
                sqlx::query(
                    "UPDATE broadcasts SET fanout_after = ? WHERE tenant_id = ? AND id = ?",
                )
                .bind(last)
                .bind(b.tenant_id)
                .bind(b.id)
                .execute(&mut *conn)
                .await?;
            }
            (ids, done)
        }
    };
    let made = ids
        .into_iter()
        .map(|p| NewNotification {
            tenant_id: b.tenant_id,
            participant_id: p,
            kind: NotificationKind::Broadcast,
            conversation_id: None,
            subject_id: b.id,
            seq: None,
            title: b.title.clone(),
            body: b.body.clone(),
            at: entry.created_at,
        })
        .collect();
    Ok((made, done))
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
            fanout_after: None,
        };
        sqlx::query(&format!(
            "INSERT INTO broadcasts ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)"
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
