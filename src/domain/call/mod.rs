//! Calls: one state machine (seed 004's statuses plus `busy`), persisted in
//! `calls`; `call_lines` holds one row per participant in a live call so
//! "busy" is exact under concurrency (`lines`); the ring deadline is stored so the
//! sweeper (`sweeper`, driven by `workers::call_sweeper`) times calls out
//! even across a restart. The state machine is in `machine`; types and SQL
//! here; use cases in `service`, `media` and `read`; a call's entry in
//! its conversation in `entries`.
//!
//! ```text
//! initiated ─ring→ ringing ─accept→ answered ─connect→ ongoing
//!     │               │                 │                 │
//!     ├───────────────┴─ reject → rejected (rejected)     │
//!     ├───────────────┴─ cancel → missed (cancelled)      │
//!     ├───────────────┴─ timeout → missed (no_answer)     │
//!     ├───────────────┴─ drop → failed (network_error)    │
//!     │                                 ├── end → ended (completed)
//!     │                                 └── drop → ended (network_error)
//! (busy: recorded final at once when either party is in a live call)
//! ```

pub mod credentials;
mod entries;
mod lines;
mod machine;
mod media;
mod read;
mod service;
mod sweeper;

use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;

pub use lines::{free_lines, take_lines};
pub use machine::{CallAction, transition};
pub use media::{CallJoin, Signal, SignalKind};
pub use read::CallFilter;
pub use service::{CallTokens, NewCall};

use super::participant::ParticipantType;
use super::{CallId, ConsultationId, ConversationId, ParticipantId, TenantId};
use crate::error::{AppError, AppResult};

/// Voice or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Voice,
    Video,
}

text_enum!(CallType { Voice => "voice", Video => "video" });

impl CallType {
    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::from_str_opt(raw.trim())
            .ok_or_else(|| AppError::validation("callType must be voice or video"))
    }
}

/// How the media flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Through Agora, with tokens this server issues.
    Agora,
    /// Peer to peer; this server relays the WebRTC signalling.
    Webrtc,
}

text_enum!(Transport { Agora => "agora", Webrtc => "webrtc" });

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Initiated,
    Ringing,
    Answered,
    Ongoing,
    Ended,
    Rejected,
    Missed,
    Failed,
    Busy,
}

text_enum!(CallStatus {
    Initiated => "initiated",
    Ringing => "ringing",
    Answered => "answered",
    Ongoing => "ongoing",
    Ended => "ended",
    Rejected => "rejected",
    Missed => "missed",
    Failed => "failed",
    Busy => "busy",
});

impl CallStatus {
    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::from_str_opt(raw.trim()).ok_or_else(|| {
            AppError::validation(
                "status must be initiated, ringing, answered, ongoing, ended, rejected, missed, failed or busy",
            )
        })
    }

    /// Not yet over: holds both parties' lines.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Initiated | Self::Ringing | Self::Answered | Self::Ongoing
        )
    }

    /// Waiting for the callee.
    pub fn is_ringing(self) -> bool {
        matches!(self, Self::Initiated | Self::Ringing)
    }
}

/// Why a call is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Completed,
    Rejected,
    NoAnswer,
    NetworkError,
    Cancelled,
    Busy,
}

text_enum!(EndReason {
    Completed => "completed",
    Rejected => "rejected",
    NoAnswer => "no_answer",
    NetworkError => "network_error",
    Cancelled => "cancelled",
    Busy => "busy",
});

/// A call row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Call {
    pub tenant_id: TenantId,
    pub id: CallId,
    pub caller_id: ParticipantId,
    pub caller_type: ParticipantType,
    pub callee_id: ParticipantId,
    pub callee_type: ParticipantType,
    pub call_type: CallType,
    pub transport: Transport,
    pub status: CallStatus,
    pub channel_name: String,
    pub caller_uid: u32,
    pub callee_uid: u32,
    pub conversation_id: Option<ConversationId>,
    pub consultation_id: Option<ConsultationId>,
    pub initiated_at: DateTime<Utc>,
    pub ring_deadline: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<u32>,
    pub end_reason: Option<EndReason>,
    pub ended_by: Option<ParticipantId>,
    pub updated_at: DateTime<Utc>,
}

impl Call {
    /// Whether `p` is the caller or the callee.
    pub fn has_party(&self, p: ParticipantId) -> bool {
        self.caller_id == p || self.callee_id == p
    }

    /// The party that is not `p`.
    pub fn other_party(&self, p: ParticipantId) -> ParticipantId {
        if self.caller_id == p {
            self.callee_id
        } else {
            self.caller_id
        }
    }

    /// Both parties.
    pub fn parties(&self) -> [ParticipantId; 2] {
        [self.caller_id, self.callee_id]
    }

    /// The text of the call's entry in the conversation ("Missed voice
    /// call", "Video call · 3:24", ...).
    pub fn summary(&self) -> String {
        let kind = match self.call_type {
            CallType::Voice => "voice call",
            CallType::Video => "video call",
        };
        let capital = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        };
        match (self.status, self.end_reason) {
            (CallStatus::Ended, _) => {
                let secs = self.duration_secs.unwrap_or(0);
                format!("{} · {}:{:02}", capital(kind), secs / 60, secs % 60)
            }
            (CallStatus::Rejected, _) => format!("Declined {kind}"),
            (CallStatus::Busy, _) => format!("Missed {kind} (busy)"),
            (CallStatus::Missed, Some(EndReason::Cancelled)) => format!("Cancelled {kind}"),
            (CallStatus::Missed, _) => format!("Missed {kind}"),
            (CallStatus::Failed, _) => format!("Failed {kind}"),
            _ => capital(kind),
        }
    }
}

pub(crate) const COLUMNS: &str =
    "tenant_id, id, caller_id, caller_type, callee_id, callee_type, call_type, transport,
     status, channel_name, caller_uid, callee_uid, conversation_id, consultation_id, initiated_at,
     ring_deadline, answered_at, ended_at, duration_secs, end_reason, ended_by, updated_at";

pub async fn insert(conn: &mut MySqlConnection, c: &Call) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO calls ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(c.tenant_id)
    .bind(c.id)
    .bind(c.caller_id)
    .bind(c.caller_type)
    .bind(c.callee_id)
    .bind(c.callee_type)
    .bind(c.call_type)
    .bind(c.transport)
    .bind(c.status)
    .bind(&c.channel_name)
    .bind(c.caller_uid)
    .bind(c.callee_uid)
    .bind(c.conversation_id)
    .bind(c.consultation_id)
    .bind(c.initiated_at)
    .bind(c.ring_deadline)
    .bind(c.answered_at)
    .bind(c.ended_at)
    .bind(c.duration_secs)
    .bind(c.end_reason)
    .bind(c.ended_by)
    .bind(c.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A call of the tenant; `lock` takes the row for an update.
pub async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: CallId,
    lock: bool,
) -> AppResult<Option<Call>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM calls WHERE tenant_id = ? AND id = ?{lock}"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Writes a call's new state.
pub async fn update(conn: &mut MySqlConnection, c: &Call) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE calls SET status = ?, ring_deadline = ?, answered_at = ?, ended_at = ?,
                duration_secs = ?, end_reason = ?, ended_by = ?, updated_at = ?
         WHERE tenant_id = ? AND id = ?",
    )
    .bind(c.status)
    .bind(c.ring_deadline)
    .bind(c.answered_at)
    .bind(c.ended_at)
    .bind(c.duration_secs)
    .bind(c.end_reason)
    .bind(c.ended_by)
    .bind(c.updated_at)
    .bind(c.tenant_id)
    .bind(c.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Live calls of a participant (at most one, by the lines).
pub async fn live_of(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    participant: ParticipantId,
) -> AppResult<Vec<CallId>> {
    Ok(sqlx::query_scalar(
        "SELECT call_id FROM call_lines WHERE tenant_id = ? AND participant_id = ?",
    )
    .bind(tenant)
    .bind(participant)
    .fetch_all(conn)
    .await?)
}

/// Ringing calls whose deadline passed, of every tenant (the sweeper's
/// query: the one place that reads across tenants).
pub async fn overdue(
    conn: &mut MySqlConnection,
    now: DateTime<Utc>,
    limit: u32,
) -> AppResult<Vec<(TenantId, CallId)>> {
    Ok(sqlx::query_as(
        "SELECT tenant_id, id FROM calls WHERE ring_deadline <= ? ORDER BY ring_deadline LIMIT ?",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The nearest ring deadline of any tenant.
pub async fn next_deadline(conn: &mut MySqlConnection) -> AppResult<Option<DateTime<Utc>>> {
    Ok(
        sqlx::query_scalar("SELECT MIN(ring_deadline) FROM calls WHERE ring_deadline IS NOT NULL")
            .fetch_one(conn)
            .await?,
    )
}

#[cfg(test)]
impl Call {
    /// A video call from an admin to an astrologer, for unit tests.
    pub(crate) fn sample(status: CallStatus, transport: Transport) -> Self {
        let now = Utc::now();
        Self {
            tenant_id: TenantId::new(),
            id: CallId::new(),
            caller_id: ParticipantId::new(),
            caller_type: ParticipantType::Admin,
            callee_id: ParticipantId::new(),
            callee_type: ParticipantType::Astrologer,
            call_type: CallType::Video,
            transport,
            status,
            channel_name: "call_x".into(),
            caller_uid: 1,
            callee_uid: 2,
            conversation_id: None,
            consultation_id: None,
            initiated_at: now,
            ring_deadline: None,
            answered_at: None,
            ended_at: None,
            duration_secs: None,
            end_reason: None,
            ended_by: None,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_read_like_a_phone_log() {
        let mut call = Call::sample(CallStatus::Ended, Transport::Agora);
        call.call_type = CallType::Voice;
        call.duration_secs = Some(204);
        call.end_reason = Some(EndReason::Completed);
        assert_eq!(call.summary(), "Voice call · 3:24");
        call.status = CallStatus::Missed;
        call.end_reason = Some(EndReason::NoAnswer);
        call.call_type = CallType::Video;
        assert_eq!(call.summary(), "Missed video call");
        call.status = CallStatus::Rejected;
        assert_eq!(call.summary(), "Declined video call");
    }
}
