//! Webhooks for third parties, driven from the database so that a crash
//! loses none (at least once, the same `webhook-id` on every retry):
//!
//! 1. A tenant's admins register endpoints (`service`): a URL, the event
//!    types it wants, a signing secret shown once (sealed at rest).
//! 2. The webhooks worker reads the log from its checkpoint (`fanout`)
//!    and, in the same transaction, writes one delivery per event and
//!    endpoint that wants it, with the body fixed then.
//! 3. It sends the due deliveries (`send`): claimed, signed, posted,
//!    marked; a failure waits out the retry schedule (about 5 s, 5 min,
//!    30 min, 2 h, 5 h, 10 h, 24 h) and is then given up; a 410 turns the
//!    endpoint off, and so does failing for three days (its admins are
//!    told by email).
//!
//! The body is `{"type", "timestamp", "data"}`; `data` is the object as
//! the REST API shows it, rendered by the caller ([`Render`]), so the core
//! does not know the wire shapes.

mod fanout;
mod input;
mod send;
mod service;

pub use fanout::{Render, Subject};
pub use service::{EndpointInput, EndpointUpdate, NewEndpoint};

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, types::Json};
use uuid::Uuid;

use super::TenantId;

/// What a webhook can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    MessageCreated,
    MessageUpdated,
    MessageDeleted,
    ConversationCreated,
    MemberAdded,
    MemberRemoved,
    CallStarted,
    CallEnded,
    CallMissed,
    ChatRequestCreated,
    ChatRequestAccepted,
    ParticipantCreated,
    ConsultationUpdated,
}

super::text_enum!(EventType {
    MessageCreated => "message.created",
    MessageUpdated => "message.updated",
    MessageDeleted => "message.deleted",
    ConversationCreated => "conversation.created",
    MemberAdded => "member.added",
    MemberRemoved => "member.removed",
    CallStarted => "call.started",
    CallEnded => "call.ended",
    CallMissed => "call.missed",
    ChatRequestCreated => "chat_request.created",
    ChatRequestAccepted => "chat_request.accepted",
    ParticipantCreated => "participant.created",
    ConsultationUpdated => "consultation.updated",
});

impl EventType {
    /// Every type, in the order the docs list them.
    pub const ALL: [EventType; 13] = [
        Self::MessageCreated,
        Self::MessageUpdated,
        Self::MessageDeleted,
        Self::ConversationCreated,
        Self::MemberAdded,
        Self::MemberRemoved,
        Self::CallStarted,
        Self::CallEnded,
        Self::CallMissed,
        Self::ChatRequestCreated,
        Self::ChatRequestAccepted,
        Self::ParticipantCreated,
        Self::ConsultationUpdated,
    ];
}

/// A tenant's endpoint (never its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Json<Vec<String>>,
    pub enabled: bool,
    /// Why Samvad turned it off.
    pub disabled_reason: Option<String>,
    /// Failing since (the first failure after the last success).
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// Whether it wants `kind`.
    pub fn wants(&self, kind: EventType) -> bool {
        self.event_types.0.iter().any(|t| t == kind.as_str())
    }
}

const ENDPOINT_COLUMNS: &str = "tenant_id, id, url, description, event_types, enabled,
    disabled_reason, failing_since, created_at, updated_at";

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sending,
    Sent,
    Failed,
}

super::text_enum!(DeliveryState {
    Pending => "pending",
    Sending => "sending",
    Sent => "sent",
    Failed => "failed",
});

/// One event to one endpoint, as the delivery log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: u16,
    pub next_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    /// The first bytes of the receiver's last answer.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub latency_ms: Option<u32>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub body: String,
}

impl Delivery {
    /// Its `webhook-id` header.
    pub fn webhook_id(&self) -> String {
        webhook_id(self.id)
    }
}

/// The `webhook-id` of delivery `id`.
pub fn webhook_id(id: Uuid) -> String {
    format!("msg_{}", id.simple())
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_type, state, attempts, next_at,
    status_code, response_body, error, latency_ms, sent_at, created_at, body";

/// The tenant's endpoints, newest first.
async fn endpoints(conn: &mut MySqlConnection, tenant: TenantId) -> sqlx::Result<Vec<Endpoint>> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(tenant)
    .fetch_all(conn)
    .await
}

/// One of the tenant's endpoints.
async fn endpoint(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<Endpoint>> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// An endpoint's newest deliveries, optionally in one state.
async fn deliveries(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    endpoint: Uuid,
    state: Option<DeliveryState>,
    limit: u32,
) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE tenant_id = ? AND endpoint_id = ? AND (? IS NULL OR state = ?)
         ORDER BY created_at DESC, id DESC LIMIT ?"
    ))
    .bind(tenant)
    .bind(endpoint)
    .bind(state)
    .bind(state)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Turns an endpoint off (if it is on), giving up its waiting deliveries;
/// returns whether it was on.
async fn disable(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: Uuid,
    reason: Option<&str>,
) -> sqlx::Result<bool> {
    let now = super::now();
    let off = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = ?, updated_at = ?
         WHERE tenant_id = ? AND id = ? AND enabled",
    )
    .bind(reason)
    .bind(now)
    .bind(tenant)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'failed', error = 'endpoint disabled',
             claimed_at = NULL, updated_at = ?
         WHERE tenant_id = ? AND endpoint_id = ? AND state = 'pending'",
    )
    .bind(now)
    .bind(tenant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(off)
}

/// Deletes finished deliveries made before `before`, in batches (no long
/// locks); returns how many went.
async fn purge(conn: &mut MySqlConnection, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let gone = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE created_at < ? AND state IN ('sent', 'failed')
             LIMIT 5000",
        )
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        total += gone;
        if gone < 5000 {
            return Ok(total);
        }
    }
}

impl super::Core {
    /// Deletes finished webhook deliveries made before `before`.
    pub async fn purge_webhooks(&self, before: DateTime<Utc>) -> crate::error::AppResult<u64> {
        Ok(purge(&mut *self.pool().acquire().await?, before).await?)
    }
}
