//! What the guard found, for the admins: a hit on one send or edit (the
//! refusal it makes, the metric it counts), the flags written in the
//! sender's transaction, and the admins' list of them.

use sqlx::{MySqlConnection, QueryBuilder};
use uuid::Uuid;

use super::{Guard, GuardKind, GuardMode};
use crate::{
    domain::{Actor, ConversationId, Core, MessageId, ParticipantId, TenantId},
    error::{AppError, AppResult},
};

/// The stored excerpt of a flagged text, in characters.
const EXCERPT_CHARS: usize = 255;

/// What the guard did to one send or edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub mode: GuardMode,
    pub kinds: Vec<GuardKind>,
    /// The text as the sender wrote it (cut to 255 characters).
    pub excerpt: String,
}

impl Hit {
    /// Applies `guard` to `text`: `None` when it passes; otherwise what was
    /// found and, for `mask`, the text to store instead.
    pub fn of(guard: &Guard, text: &str) -> Option<(Self, Option<String>)> {
        let kinds = guard.scan(text);
        if kinds.is_empty() {
            return None;
        }
        let masked = (guard.mode == GuardMode::Mask).then(|| guard.mask(text));
        for kind in &kinds {
            metrics::counter!(
                "samvad_contact_guard_total",
                "action" => guard.mode.as_str(),
                "kind" => kind.as_str()
            )
            .increment(1);
        }
        let hit = Self {
            mode: guard.mode,
            kinds,
            excerpt: text.chars().take(EXCERPT_CHARS).collect(),
        };
        Some((hit, masked))
    }

    /// The error a blocked send or edit gets.
    pub fn refusal(&self) -> AppError {
        let what: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        AppError::Validation {
            code: "contact_details",
            message: format!(
                "sharing contact details is not allowed in this conversation ({}); keep the consultation here",
                what.join(", ")
            ),
        }
    }
}

/// One flag for the admins: who tried to share what, where.
#[derive(Debug, Clone)]
pub struct NewFlag {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub sender_id: ParticipantId,
    /// The message as delivered (masked), or `None` when it was refused.
    pub message_id: Option<MessageId>,
    pub hit: Hit,
}

/// Writes flags in the caller's transaction.
pub async fn record(conn: &mut MySqlConnection, flags: &[NewFlag]) -> sqlx::Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    let now = crate::domain::now();
    let mut insert = QueryBuilder::new(
        "INSERT INTO contact_flags (tenant_id, id, conversation_id, sender_id, message_id,
             action, kinds, excerpt, created_at) ",
    );
    insert.push_values(flags, |mut row, f| {
        let kinds: Vec<&str> = f.hit.kinds.iter().map(|k| k.as_str()).collect();
        let action = match f.hit.mode {
            GuardMode::Block => "blocked",
            _ => "masked",
        };
        row.push_bind(f.tenant_id)
            .push_bind(Uuid::now_v7())
            .push_bind(f.conversation_id)
            .push_bind(f.sender_id)
            .push_bind(f.message_id)
            .push_bind(action)
            .push_bind(kinds.join(","))
            .push_bind(&f.hit.excerpt)
            .push_bind(now);
    });
    insert.build().execute(conn).await?;
    Ok(())
}

/// A flag as the admins see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Flag {
    pub id: Uuid,
    pub conversation_id: ConversationId,
    pub sender_id: ParticipantId,
    pub message_id: Option<MessageId>,
    /// `blocked` or `masked`.
    pub action: String,
    /// Comma-separated kinds: `phone,link`.
    pub kinds: String,
    pub excerpt: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Core {
    /// The tenant's newest flags (newest first), optionally one sender's.
    pub async fn contact_flags(
        &self,
        actor: &Actor,
        sender: Option<ParticipantId>,
        limit: u32,
    ) -> AppResult<Vec<Flag>> {
        let tenant = actor.tenant()?;
        Ok(sqlx::query_as(
            "SELECT id, conversation_id, sender_id, message_id, action, kinds, excerpt, created_at
             FROM contact_flags WHERE tenant_id = ? AND (? IS NULL OR sender_id = ?)
             ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(tenant)
        .bind(sender)
        .bind(sender)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
