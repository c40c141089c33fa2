//! Moderation (issue 17): reports (`POST /api/reports` by any participant;
//! the queue, a report in context and settling it, for admins) and the
//! contact guard's flags (`/api/moderation/contact-flags`, admins).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{Reply, Tag, ok};
use crate::{
    auth::Caller,
    domain::{
        MessageId, ParticipantId,
        guard::Flag,
        report::{InContext, Reason, Report, ReportStatus, Resolution, Subject},
    },
    error::AppError,
    state::AppState,
    wire::message::{MessageDto, MessageRenderer},
};

#[derive(Default)]
pub struct ModerationApi;

/// A report: a message or a participant (give one), and why.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReportRequest {
    /// A message the caller can see.
    pub message_id: Option<uuid::Uuid>,
    /// A participant of the tenant.
    pub participant_id: Option<uuid::Uuid>,
    /// `spam`, `abuse`, `harassment`, `off_platform`, `fraud`,
    /// `inappropriate` or `other`.
    pub reason: String,
    /// What happened, in the reporter's words (at most 1000 characters).
    pub details: Option<String>,
}

/// A report.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReportView {
    pub id: uuid::Uuid,
    pub reporter_id: uuid::Uuid,
    /// The participant reported (a reported message's sender).
    pub participant_id: uuid::Uuid,
    pub message_id: Option<uuid::Uuid>,
    /// The reported message's text when it was reported (kept if the
    /// message is edited or deleted afterwards).
    pub message_text: Option<String>,
    pub conversation_id: Option<uuid::Uuid>,
    pub reason: String,
    pub details: Option<String>,
    /// `open`, `dismissed` or `actioned`.
    pub status: String,
    /// `dismissed`, `participant_blocked` or `message_deleted`.
    pub resolution: Option<String>,
    pub resolved_by: Option<uuid::Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Report> for ReportView {
    fn from(r: Report) -> Self {
        Self {
            id: r.id,
            reporter_id: r.reporter_id.0,
            participant_id: r.participant_id.0,
            message_id: r.message_id.map(|m| m.0),
            message_text: r.message_text,
            conversation_id: r.conversation_id.map(|c| c.0),
            reason: r.reason.as_str().to_owned(),
            details: r.details,
            status: r.status.as_str().to_owned(),
            resolution: r.resolution.map(|x| x.as_str().to_owned()),
            resolved_by: r.resolved_by.map(|p| p.0),
            resolved_at: r.resolved_at,
            created_at: r.created_at,
        }
    }
}

/// A report with the reported message and those around it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReportInContextView {
    pub report: ReportView,
    /// Up to five messages before and after the reported one, oldest first.
    pub context: Vec<MessageDto>,
}

impl From<InContext> for ReportInContextView {
    fn from(c: InContext) -> Self {
        let renderer = MessageRenderer::new(None, &[], &[]);
        Self {
            report: c.report.into(),
            context: c.context.into_iter().map(|m| renderer.render(m)).collect(),
        }
    }
}

/// A message the contact guard refused or masked.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ContactFlagView {
    pub id: uuid::Uuid,
    pub conversation_id: uuid::Uuid,
    pub sender_id: uuid::Uuid,
    /// The message as delivered (masked); absent when it was refused.
    pub message_id: Option<uuid::Uuid>,
    /// `blocked` or `masked`.
    pub action: String,
    /// What was found: `phone`, `email`, `link`, `handle`, `pattern`.
    pub kinds: Vec<String>,
    /// The text as the sender wrote it (the first 255 characters).
    pub excerpt: String,
    pub created_at: DateTime<Utc>,
}

impl From<Flag> for ContactFlagView {
    fn from(f: Flag) -> Self {
        Self {
            id: f.id,
            conversation_id: f.conversation_id.0,
            sender_id: f.sender_id.0,
            message_id: f.message_id.map(|m| m.0),
            action: f.action,
            kinds: f.kinds.split(',').map(str::to_owned).collect(),
            excerpt: f.excerpt,
            created_at: f.created_at,
        }
    }
}

async fn resolve(
    state: &AppState,
    auth: &Caller,
    id: uuid::Uuid,
    how: Resolution,
) -> Reply<ReportView> {
    state
        .auth
        .authorize(&auth.0, "participants", "write")
        .await?;
    ok(state.core.resolve_report(&auth.0, id, how).await?.into())
}

#[OpenApi(tag = "Tag::Moderation")]
impl ModerationApi {
    /// Report a message or a participant
    #[oai(path = "/api/reports", method = "post")]
    async fn report(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<ReportRequest>,
    ) -> Reply<ReportView> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let b = body.0;
        let subject = match (b.message_id, b.participant_id) {
            (Some(m), None) => Subject::Message(MessageId(m)),
            (None, Some(p)) => Subject::Participant(ParticipantId(p)),
            _ => {
                return Err(AppError::validation(
                    "give either messageId or participantId",
                ));
            }
        };
        let reason = Reason::from_str_opt(b.reason.trim()).ok_or_else(|| {
            AppError::validation(
                "reason must be spam, abuse, harassment, off_platform, fraud, inappropriate or other",
            )
        })?;
        let report = state
            .core
            .report(&auth.0, subject, reason, b.details)
            .await?;
        ok(report.into())
    }

    /// The tenant's reports, newest first (admins)
    #[oai(path = "/api/reports", method = "get")]
    async fn reports(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Only those in this status: open, dismissed, actioned.
        status: Query<Option<String>>,
        /// At most this many (1-200; default 50).
        limit: Query<Option<u32>>,
    ) -> Reply<Vec<ReportView>> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let status = match status.0.as_deref() {
            None => None,
            Some(raw) => Some(ReportStatus::from_str_opt(raw).ok_or_else(|| {
                AppError::validation("status must be open, dismissed or actioned")
            })?),
        };
        let limit = limit.0.unwrap_or(50).clamp(1, 200);
        let list = state.core.reports(&auth.0, status, limit).await?;
        ok(list.into_iter().map(Into::into).collect())
    }

    /// A report with the reported message in its context (admins)
    #[oai(path = "/api/reports/:id", method = "get")]
    async fn report_in_context(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ReportInContextView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        ok(state.core.report_in_context(&auth.0, id.0).await?.into())
    }

    /// Dismiss a report (admins)
    #[oai(path = "/api/reports/:id/dismiss", method = "post")]
    async fn dismiss(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ReportView> {
        resolve(state, &auth, id.0, Resolution::Dismiss).await
    }

    /// Block the reported participant: their sessions end (admins)
    #[oai(path = "/api/reports/:id/block-participant", method = "post")]
    async fn block(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ReportView> {
        resolve(state, &auth, id.0, Resolution::BlockParticipant).await
    }

    /// Delete the reported message for everyone (admins)
    #[oai(path = "/api/reports/:id/delete-message", method = "post")]
    async fn delete_message(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ReportView> {
        resolve(state, &auth, id.0, Resolution::DeleteMessage).await
    }

    /// Messages the contact guard refused or masked, newest first (admins)
    #[oai(path = "/api/moderation/contact-flags", method = "get")]
    async fn contact_flags(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Only this sender's.
        #[oai(name = "participantId")]
        participant_id: Query<Option<uuid::Uuid>>,
        /// At most this many (1-200; default 50).
        limit: Query<Option<u32>>,
    ) -> Reply<Vec<ContactFlagView>> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let limit = limit.0.unwrap_or(50).clamp(1, 200);
        let list = state
            .core
            .contact_flags(&auth.0, participant_id.0.map(ParticipantId), limit)
            .await?;
        ok(list.into_iter().map(Into::into).collect())
    }
}
