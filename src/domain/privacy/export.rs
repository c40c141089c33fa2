//! Export: everything Samvad keeps about one participant, for them (their
//! own) or their tenant's admins: the profile, live sessions and push
//! devices, the conversations they are or were in, the messages they sent
//! (the newest [`MAX_MESSAGES`]; `truncated` says when there were more),
//! their calls, inbox, chat requests, consultations, and their
//! notification choices (what they consented to be sent). Audited.

use sqlx::MySqlConnection;

use crate::{
    domain::{
        Actor, ConversationId, Core, MessageId, ParticipantId, TenantId, audit,
        call::{self, Call},
        conversation::ConversationType,
        device::{self, Device},
        message::{self, Message},
        notification::{self, Notification, preferences::Preferences},
        participant::{self, Participant},
        relationship::{self, ChatRequest, Consultation},
        session::{self, SessionInfo},
    },
    error::{AppError, AppResult},
};

/// Messages an export carries at most (the newest).
pub const MAX_MESSAGES: u32 = 50_000;
/// Calls and inbox entries an export carries at most (the newest).
const MAX_OTHER: u32 = 10_000;

/// A conversation the participant is or was in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    pub conversation_id: ConversationId,
    pub kind: ConversationType,
    pub title: Option<String>,
    pub role: String,
    pub joined_at: chrono::DateTime<chrono::Utc>,
    pub left_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What an export holds.
#[derive(Debug, Clone)]
pub struct Export {
    pub participant: Participant,
    pub sessions: Vec<SessionInfo>,
    pub devices: Vec<Device>,
    pub conversations: Vec<Membership>,
    pub messages: Vec<Message>,
    /// More messages were sent than an export carries.
    pub truncated: bool,
    pub calls: Vec<Call>,
    pub notifications: Vec<Notification>,
    pub chat_requests: Vec<ChatRequest>,
    pub consultations: Vec<Consultation>,
    pub preferences: Preferences,
}

impl Core {
    /// The actor's own export.
    pub async fn export_own(&self, actor: &Actor) -> AppResult<Export> {
        let (_, me) = actor.participant()?;
        self.export_participant(actor, me).await
    }

    /// A participant's export: their own, or any of the tenant's for its
    /// admins (the caller has authorized that). Audited.
    #[tracing::instrument(skip_all, fields(participant = %id))]
    pub async fn export_participant(&self, actor: &Actor, id: ParticipantId) -> AppResult<Export> {
        let tenant = actor.tenant()?;
        let mut conn = self.pool().acquire().await?;
        let participant = participant::get(&mut conn, tenant, id)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        let now = crate::domain::now();
        let (messages, truncated) = sent(&mut conn, tenant, id).await?;
        let export = Export {
            sessions: session::list_live(&mut conn, Some(tenant), id.0).await?,
            devices: device::of_participant(&mut conn, tenant, id, now).await?,
            conversations: sqlx::query_as(
                "SELECT m.conversation_id, c.type AS kind, c.title, m.role, m.joined_at, m.left_at
                 FROM conversation_members m JOIN conversations c
                   ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id
                 WHERE m.tenant_id = ? AND m.participant_id = ? ORDER BY m.joined_at",
            )
            .bind(tenant)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?,
            messages,
            truncated,
            calls: sqlx::query_as(&format!(
                "SELECT {} FROM calls WHERE tenant_id = ? AND (caller_id = ? OR callee_id = ?)
                 ORDER BY initiated_at DESC LIMIT ?",
                call::COLUMNS
            ))
            .bind(tenant)
            .bind(id)
            .bind(id)
            .bind(MAX_OTHER)
            .fetch_all(&mut *conn)
            .await?,
            notifications: sqlx::query_as(&format!(
                "SELECT {} FROM notifications WHERE tenant_id = ? AND participant_id = ?
                 ORDER BY updated_at DESC LIMIT ?",
                notification::COLUMNS
            ))
            .bind(tenant)
            .bind(id)
            .bind(MAX_OTHER)
            .fetch_all(&mut *conn)
            .await?,
            chat_requests: sqlx::query_as(&format!(
                "SELECT {} FROM chat_requests WHERE tenant_id = ? AND (from_id = ? OR to_id = ?)
                 ORDER BY created_at",
                relationship::REQUEST_COLUMNS
            ))
            .bind(tenant)
            .bind(id)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?,
            consultations: sqlx::query_as(&format!(
                "SELECT {} FROM consultations WHERE tenant_id = ? AND (user_id = ? OR astrologer_id = ?)
                 ORDER BY created_at",
                relationship::CONSULTATION_COLUMNS
            ))
            .bind(tenant)
            .bind(id)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?,
            preferences: notification::preferences::load(&mut conn, tenant, id).await?,
            participant,
        };
        audit::record(
            &mut conn,
            audit::Entry::new(Some(actor), "participant.export")
                .target("participant", id.0)
                .detail(serde_json::json!({
                    "messages": export.messages.len(), "truncated": truncated,
                })),
        )
        .await?;
        Ok(export)
    }
}

/// The newest messages the participant sent, oldest first, and whether
/// there were more.
async fn sent(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ParticipantId,
) -> AppResult<(Vec<Message>, bool)> {
    let mut ids: Vec<MessageId> = sqlx::query_scalar(
        "SELECT id FROM messages WHERE tenant_id = ? AND sender_id = ?
         ORDER BY created_at DESC LIMIT ?",
    )
    .bind(tenant)
    .bind(id)
    .bind(MAX_MESSAGES + 1)
    .fetch_all(&mut *conn)
    .await?;
    let truncated = ids.len() > MAX_MESSAGES as usize;
    ids.truncate(MAX_MESSAGES as usize);
    let mut messages = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        messages.extend(message::get_many(conn, tenant, chunk).await?);
    }
    messages.sort_by_key(|m| (m.created_at, m.seq));
    Ok((messages, truncated))
}
