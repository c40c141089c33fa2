//! Reports (issue 17): a participant reports a message they can see or a
//! participant of their tenant, with a reason; the tenant's admins work
//! the queue (the API and the console's Moderation page): see the message
//! in its context, dismiss the report, block the reported participant, or
//! delete the message for everyone. Each step is audited. A reporter who
//! reports the same thing again while it is open gets the same report.

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;
use uuid::Uuid;

use super::{
    Actor, ConversationId, Core, MessageId, ParticipantId, TenantId, audit,
    message::{self, Message},
};
use crate::error::{AppError, AppResult};

/// Messages shown on each side of a reported one.
const CONTEXT: u64 = 5;
/// Longest details, in characters.
const MAX_DETAILS: usize = 1000;

/// Why something is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Spam,
    Abuse,
    Harassment,
    /// Asking to move the consultation off the platform.
    OffPlatform,
    Fraud,
    Inappropriate,
    Other,
}

super::text_enum!(Reason {
    Spam => "spam",
    Abuse => "abuse",
    Harassment => "harassment",
    OffPlatform => "off_platform",
    Fraud => "fraud",
    Inappropriate => "inappropriate",
    Other => "other",
});

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    Open,
    /// Looked at; nothing done.
    Dismissed,
    /// The participant blocked or the message deleted.
    Actioned,
}

super::text_enum!(ReportStatus {
    Open => "open",
    Dismissed => "dismissed",
    Actioned => "actioned",
});

/// What an admin did about a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Dismiss,
    BlockParticipant,
    DeleteMessage,
}

super::text_enum!(Resolution {
    Dismiss => "dismissed",
    BlockParticipant => "participant_blocked",
    DeleteMessage => "message_deleted",
});

/// A report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Report {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub reporter_id: ParticipantId,
    /// The participant reported (a message's sender).
    pub participant_id: ParticipantId,
    pub message_id: Option<MessageId>,
    /// The reported message's text when it was reported.
    pub message_text: Option<String>,
    pub conversation_id: Option<ConversationId>,
    pub reason: Reason,
    pub details: Option<String>,
    pub status: ReportStatus,
    pub resolution: Option<Resolution>,
    pub resolved_by: Option<ParticipantId>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "tenant_id, id, reporter_id, participant_id, message_id, message_text, conversation_id,
    reason, details, status, resolution, resolved_by, resolved_at, created_at";

/// What is reported.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Message(MessageId),
    Participant(ParticipantId),
}

/// A report with what the admins need to judge it: the message and the
/// messages around it.
#[derive(Debug, Clone)]
pub struct InContext {
    pub report: Report,
    pub context: Vec<Message>,
}

async fn get(conn: &mut MySqlConnection, tenant: TenantId, id: Uuid) -> AppResult<Report> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reports WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound("report"))
}

impl Core {
    /// Reports a message the actor can see, or a participant of their
    /// tenant (not themselves).
    pub async fn report(
        &self,
        actor: &Actor,
        subject: Subject,
        reason: Reason,
        details: Option<String>,
    ) -> AppResult<Report> {
        let (tenant, me) = actor.participant()?;
        let details = details
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        if details
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DETAILS)
        {
            return Err(AppError::validation(format!(
                "details is longer than {MAX_DETAILS} characters"
            )));
        }
        let (participant, message, text, conversation) = match subject {
            Subject::Message(id) => {
                // Only a message the reporter can see (else not found).
                let (m, _, _) = self.visible(actor, id).await?;
                let sender = m.sender_id.ok_or_else(|| {
                    AppError::validation("Samvad's own messages cannot be reported")
                })?;
                (
                    sender,
                    Some(m.id),
                    m.content.clone(),
                    Some(m.conversation_id),
                )
            }
            Subject::Participant(id) => {
                self.visible_participant(actor, id).await?;
                (id, None, None, None)
            }
        };
        if participant == me {
            return Err(AppError::validation("you cannot report yourself"));
        }
        let mut tx = self.pool().begin().await?;
        let open: Option<Report> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM reports
             WHERE tenant_id = ? AND reporter_id = ? AND participant_id = ?
               AND message_id <=> ? AND status = 'open' FOR UPDATE"
        ))
        .bind(tenant)
        .bind(me)
        .bind(participant)
        .bind(message)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(open) = open {
            return Ok(open);
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO reports (tenant_id, id, reporter_id, participant_id, message_id,
                 message_text, conversation_id, reason, details, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        )
        .bind(tenant)
        .bind(id)
        .bind(me)
        .bind(participant)
        .bind(message)
        .bind(text)
        .bind(conversation)
        .bind(reason)
        .bind(&details)
        .bind(super::now())
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "report.create")
                .target("report", id)
                .detail(serde_json::json!({
                    "reason": reason.as_str(), "participant": participant, "message": message,
                })),
        )
        .await?;
        let report = get(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// The tenant's reports, newest first, optionally in one status.
    pub async fn reports(
        &self,
        actor: &Actor,
        status: Option<ReportStatus>,
        limit: u32,
    ) -> AppResult<Vec<Report>> {
        let tenant = actor.tenant()?;
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM reports WHERE tenant_id = ? AND (? IS NULL OR status = ?)
             ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .bind(tenant)
        .bind(status)
        .bind(status)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// One report, with the reported message and the messages around it
    /// (as they are now: deleted ones show as deleted).
    pub async fn report_in_context(&self, actor: &Actor, id: Uuid) -> AppResult<InContext> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        let report = get(&mut conn, tenant, id).await?;
        let mut context = Vec::new();
        if let (Some(message), Some(conversation)) = (report.message_id, report.conversation_id)
            && let Some(m) = message::get(&mut conn, tenant, message).await?
        {
            let ids: Vec<MessageId> = sqlx::query_scalar(
                "SELECT id FROM messages WHERE tenant_id = ? AND conversation_id = ?
                   AND seq BETWEEN ? AND ? ORDER BY seq",
            )
            .bind(tenant)
            .bind(conversation)
            .bind(m.seq.saturating_sub(CONTEXT))
            .bind(m.seq + CONTEXT)
            .fetch_all(&mut *conn)
            .await?;
            context = message::get_many(&mut conn, tenant, &ids).await?;
            context.sort_by_key(|m| m.seq);
            self.attach(tenant, &mut context).await?;
        }
        Ok(InContext { report, context })
    }

    /// Settles an open report: dismissed, or the participant blocked (their
    /// sessions revoked), or the message deleted for everyone. The report
    /// is claimed first, so two admins acting at once act once: the second
    /// gets `report_closed`; an action that fails reopens it.
    pub async fn resolve_report(
        &self,
        actor: &Actor,
        id: Uuid,
        resolution: Resolution,
    ) -> AppResult<Report> {
        let tenant = actor.tenant()?;
        let admin = actor.participant().ok().map(|(_, p)| p);
        let report = get(&mut *self.pool().acquire().await?, tenant, id).await?;
        if resolution == Resolution::DeleteMessage && report.message_id.is_none() {
            return Err(AppError::validation("this report is not about a message"));
        }
        let status = match resolution {
            Resolution::Dismiss => ReportStatus::Dismissed,
            _ => ReportStatus::Actioned,
        };
        let claimed = sqlx::query(
            "UPDATE reports SET status = ?, resolution = ?, resolved_by = ?, resolved_at = ?
             WHERE tenant_id = ? AND id = ? AND status = 'open'",
        )
        .bind(status)
        .bind(resolution)
        .bind(admin)
        .bind(super::now())
        .bind(tenant)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(AppError::conflict(
                "report_closed",
                "this report has already been settled",
            ));
        }
        let acted = match (resolution, report.message_id) {
            (Resolution::BlockParticipant, _) => self
                .set_participant_blocked(actor, report.participant_id, true)
                .await
                .map(drop),
            // Whoever may settle reports may delete the reported message
            // (an admin, or an API key: no person, so not through
            // `delete_message`, which asks who deletes).
            (Resolution::DeleteMessage, Some(message)) => {
                self.tombstone(tenant, message).await.map(drop)
            }
            _ => Ok(()),
        };
        if let Err(err) = acted {
            sqlx::query(
                "UPDATE reports SET status = 'open', resolution = NULL, resolved_by = NULL,
                     resolved_at = NULL WHERE tenant_id = ? AND id = ?",
            )
            .bind(tenant)
            .bind(id)
            .execute(self.pool())
            .await?;
            return Err(err);
        }
        let mut tx = self.pool().begin().await?;
        // Every other open report of the same thing is settled with it.
        sqlx::query(
            "UPDATE reports SET status = ?, resolution = ?, resolved_by = ?, resolved_at = ?
             WHERE tenant_id = ? AND status = 'open' AND participant_id = ?
               AND ((? IS NOT NULL AND message_id = ?) OR ? = 'participant_blocked')",
        )
        .bind(status)
        .bind(resolution)
        .bind(admin)
        .bind(super::now())
        .bind(tenant)
        .bind(report.participant_id)
        .bind(report.message_id)
        .bind(report.message_id)
        .bind(resolution)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "report.resolve")
                .target("report", id)
                .detail(serde_json::json!({ "resolution": resolution.as_str() })),
        )
        .await?;
        let report = get(&mut tx, tenant, id).await?;
        tx.commit().await?;
        Ok(report)
    }
}
