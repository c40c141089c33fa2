//! Deliveries from the durable log. [`Core::webhooks_from_log`], in one
//! transaction, locks the `webhooks` checkpoint row (with several nodes
//! one works at a time), reads the entries after it, writes one delivery
//! per event and endpoint that wants it (the body fixed now, so retries
//! send the same bytes), and moves the checkpoint past them. A crash
//! before the commit reads the same entries again; the commit makes the
//! deliveries and the checkpoint together: each event is sent to each
//! endpoint at least once, and made into a delivery exactly once.

use std::collections::HashMap;

use sqlx::{Connection, MySqlConnection};
use uuid::Uuid;

use super::{Endpoint, EventType};
use crate::{
    domain::{
        CallId, ChatRequestId, ConsultationId, ConversationId, Core, MessageId, ParticipantId,
        TenantId,
        call::{self, Call, CallStatus},
        conversation::{self, Conversation},
        log::{Entry, LogKind, read_after},
        message::{self, Message},
        participant::{self, Participant},
        relationship::{self, ChatRequest, ChatRequestStatus, Consultation},
    },
    error::AppResult,
};

/// The checkpoint's name in `log_checkpoints`.
const CHECKPOINT: &str = "webhooks";

/// What an event is about, as it is when its deliveries are made.
#[derive(Debug)]
pub enum Subject {
    Message(Message),
    Conversation {
        conversation: Conversation,
        members: Vec<ParticipantId>,
    },
    Member {
        conversation: ConversationId,
        participant: ParticipantId,
    },
    Call(Call),
    ChatRequest(ChatRequest),
    Participant(Participant),
    Consultation(Consultation),
}

/// Renders an event's `data`: the object as the REST API shows it.
pub type Render = dyn Fn(&Subject) -> serde_json::Value + Send + Sync;

impl Core {
    /// Makes the deliveries of up to `limit` log entries after the
    /// checkpoint; returns whether a full batch was read (more may wait).
    #[tracing::instrument(skip_all)]
    pub async fn webhooks_from_log(&self, limit: u32, render: &Render) -> AppResult<bool> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let (position,): (u64,) =
            sqlx::query_as("SELECT position FROM log_checkpoints WHERE name = ? FOR UPDATE")
                .bind(CHECKPOINT)
                .fetch_one(&mut *tx)
                .await?;
        let entries = read_after(&mut tx, position, limit).await?;
        let Some(last) = entries.last().map(|e| e.position) else {
            return Ok(false);
        };
        let mut endpoints: HashMap<TenantId, Vec<Endpoint>> = HashMap::new();
        let now = crate::domain::now();
        let mut made = 0u64;
        for entry in &entries {
            let types = event_types(entry.kind);
            if types.is_empty() {
                continue;
            }
            let tenant_endpoints = match endpoints.entry(entry.tenant_id) {
                std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(enabled(&mut tx, entry.tenant_id).await?)
                }
            };
            let wanted: Vec<(&Endpoint, EventType)> = tenant_endpoints
                .iter()
                .flat_map(|e| types.iter().map(move |t| (e, *t)))
                .filter(|(e, t)| e.wants(*t))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let Some(subject) = subject(&mut tx, entry).await? else {
                continue;
            };
            let data = render(&subject);
            for (endpoint, kind) in wanted {
                if !applies(kind, &subject) {
                    continue;
                }
                let body = serde_json::json!({
                    "type": kind.as_str(),
                    "timestamp": entry.created_at,
                    "data": data,
                })
                .to_string();
                sqlx::query(
                    "INSERT IGNORE INTO webhook_deliveries (tenant_id, id, endpoint_id, event_type,
                         position, body, state, attempts, next_at, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                )
                .bind(entry.tenant_id)
                .bind(Uuid::now_v7())
                .bind(endpoint.id)
                .bind(kind.as_str())
                .bind(entry.position)
                .bind(body)
                .bind(now)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                made += 1;
            }
        }
        sqlx::query("UPDATE log_checkpoints SET position = ?, updated_at = ? WHERE name = ?")
            .bind(last)
            .bind(now)
            .bind(CHECKPOINT)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        metrics::counter!("samvad_webhook_deliveries_made_total").increment(made);
        Ok(entries.len() as u32 == limit)
    }
}

/// The event types a log entry may make (the subject decides the
/// conditional ones: [`applies`]).
fn event_types(kind: LogKind) -> &'static [EventType] {
    use EventType as E;
    match kind {
        LogKind::MessageCreated => &[E::MessageCreated],
        LogKind::MessageUpdated => &[E::MessageUpdated],
        LogKind::MessageDeleted => &[E::MessageDeleted],
        LogKind::ConversationCreated => &[E::ConversationCreated],
        LogKind::MemberAdded => &[E::MemberAdded],
        LogKind::MemberRemoved => &[E::MemberRemoved],
        LogKind::CallStarted => &[E::CallStarted],
        LogKind::CallEnded => &[E::CallEnded, E::CallMissed],
        LogKind::ChatRequestCreated => &[E::ChatRequestCreated],
        LogKind::ChatRequestAnswered => &[E::ChatRequestAccepted],
        LogKind::ParticipantCreated => &[E::ParticipantCreated],
        LogKind::ConsultationUpdated => &[E::ConsultationUpdated],
        LogKind::CallAnswered | LogKind::BroadcastSent => &[],
    }
}

/// Whether an event type holds for its subject: a call is missed only when
/// nobody answered it; a chat request's answer is sent when accepted.
fn applies(kind: EventType, subject: &Subject) -> bool {
    match (kind, subject) {
        (EventType::CallMissed, Subject::Call(c)) => c.status == CallStatus::Missed,
        (EventType::ChatRequestAccepted, Subject::ChatRequest(r)) => {
            r.status == ChatRequestStatus::Accepted
        }
        _ => true,
    }
}

/// The tenant's endpoints that are on.
async fn enabled(conn: &mut MySqlConnection, tenant: TenantId) -> sqlx::Result<Vec<Endpoint>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM webhook_endpoints WHERE tenant_id = ? AND enabled",
        super::ENDPOINT_COLUMNS
    ))
    .bind(tenant)
    .fetch_all(conn)
    .await
}

/// What the entry is about, as it is now (`None` when it is gone).
async fn subject(conn: &mut MySqlConnection, entry: &Entry) -> AppResult<Option<Subject>> {
    let tenant = entry.tenant_id;
    let id = entry.subject_id;
    Ok(match entry.kind {
        LogKind::MessageCreated | LogKind::MessageUpdated | LogKind::MessageDeleted => {
            message::get_many(conn, tenant, &[MessageId(id)])
                .await?
                .pop()
                .map(Subject::Message)
        }
        LogKind::ConversationCreated => {
            match conversation::get(conn, tenant, ConversationId(id)).await? {
                Some(c) => Some(Subject::Conversation {
                    members: conversation::member_ids(conn, tenant, c.id).await?,
                    conversation: c,
                }),
                None => None,
            }
        }
        LogKind::MemberAdded | LogKind::MemberRemoved => {
            entry.conversation_id.map(|conversation| Subject::Member {
                conversation,
                participant: ParticipantId(id),
            })
        }
        LogKind::CallStarted | LogKind::CallEnded | LogKind::CallAnswered => {
            call::get(conn, tenant, CallId(id), false)
                .await?
                .map(Subject::Call)
        }
        LogKind::ChatRequestCreated | LogKind::ChatRequestAnswered => {
            relationship::request(conn, tenant, ChatRequestId(id), false)
                .await?
                .map(Subject::ChatRequest)
        }
        LogKind::ParticipantCreated => participant::get(conn, tenant, ParticipantId(id))
            .await?
            .map(Subject::Participant),
        LogKind::ConsultationUpdated => {
            relationship::get_consultation(conn, tenant, ConsultationId(id))
                .await?
                .map(Subject::Consultation)
        }
        LogKind::BroadcastSent => None,
    })
}
