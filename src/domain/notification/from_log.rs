//! Notifications from the durable log. The worker (`workers::notifications`)
//! calls [`Core::notify_from_log`], which, in one transaction, locks its
//! checkpoint row (so with several nodes one works at a time), reads the
//! log entries after it, makes or collapses the notifications they call
//! for, and moves the checkpoint past them. A crash before the commit
//! leaves the checkpoint where it was, so the entries are read again and
//! nothing is lost; the commit makes the notifications and the checkpoint
//! together, so nothing is made twice. The events that tell connected
//! devices go out after the commit.
//!
//! A batch costs a few statements whatever its size: its messages are read
//! together, each conversation's recipients once; the messages of one
//! conversation to one recipient fold into one entry (count + n), as they
//! would one by one, and the entries and their pushes are written together
//! (`batch.rs`).

use std::{collections::HashMap, sync::Arc};

use sqlx::Connection;

use super::{NewNotification, NotificationKind, batch::Batch};
use crate::{
    domain::{
        CallId, ChatRequestId, ConsultationId, ConversationId, Core, MessageId, ParticipantId,
        TenantId,
        call::{self, CallStatus},
        events::DomainEvent,
        log::{Entry, LogKind, read_after},
        message::{self, MessageType},
        participant,
        push::{self, NewPush, PushFor},
        relationship::{self, ChatRequestStatus},
    },
    error::AppResult,
};

/// The checkpoint's name in `log_checkpoints`.
const CHECKPOINT: &str = "notifications";

/// A broadcast's recipients per transaction.
const FANOUT_CHUNK: u32 = 500;

/// Longest notification text, in characters.
const PREVIEW_CHARS: usize = 120;

impl Core {
    /// Makes the notifications of up to `limit` log entries after the
    /// checkpoint; returns whether there is more to do at once (a full
    /// batch, or a broadcast fanned out only in part).
    #[tracing::instrument(skip_all)]
    pub async fn notify_from_log(&self, limit: u32) -> AppResult<bool> {
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let (position,): (u64,) =
            sqlx::query_as("SELECT position FROM log_checkpoints WHERE name = ? FOR UPDATE")
                .bind(CHECKPOINT)
                .fetch_one(&mut *tx)
                .await?;
        let entries = read_after(&mut tx, position, limit).await?;
        if entries.is_empty() {
            return Ok(false);
        }
        let mut more = entries.len() as u32 == limit;
        let mut last = position;
        let mut batch = self.prefetch(&mut tx, &entries).await?;
        let due_at = crate::domain::now()
            + chrono::Duration::from_std(self.config().push_grace).unwrap_or_default();
        for entry in &entries {
            let (news, done) = match entry.kind {
                LogKind::BroadcastSent => {
                    super::broadcast::next_recipients(&mut tx, entry, FANOUT_CHUNK).await?
                }
                _ => (
                    self.notifications_of(&mut tx, entry, &mut batch).await?,
                    true,
                ),
            };
            for new in news {
                batch.fold(new);
            }
            if !done {
                // The rest of this broadcast (and what follows) next time.
                more = true;
                break;
            }
            call_pushes(&mut tx, entry).await?;
            last = entry.position;
        }
        let made = batch.store(&mut tx).await?;
        let pushes: Vec<NewPush> = made
            .iter()
            .map(|n| NewPush {
                tenant_id: n.tenant_id,
                participant_id: n.participant_id,
                kind: PushFor::Notification,
                subject: n.id,
                due_at,
            })
            .collect();
        push::enqueue_many(&mut tx, &pushes).await?;
        sqlx::query("UPDATE log_checkpoints SET position = ?, updated_at = ? WHERE name = ?")
            .bind(last)
            .bind(crate::domain::now())
            .bind(CHECKPOINT)
            .execute(&mut *tx)
            .await?;
        let mut told: HashMap<TenantId, Vec<ParticipantId>> = HashMap::new();
        for n in &made {
            let who = told.entry(n.tenant_id).or_default();
            if !who.contains(&n.participant_id) {
                who.push(n.participant_id);
            }
        }
        let mut unread = HashMap::new();
        for (tenant, who) in told {
            for (participant, count) in super::unread_of(&mut tx, tenant, &who).await? {
                unread.insert((tenant, participant), count);
            }
        }
        tx.commit().await?;
        for n in made {
            let count = unread
                .get(&(n.tenant_id, n.participant_id))
                .copied()
                .unwrap_or_default();
            self.events()
                .publish(DomainEvent::NotificationsChanged {
                    tenant: n.tenant_id,
                    participant: n.participant_id,
                    notification: Some(Arc::new(n)),
                    unread: count,
                })
                .await;
        }
        Ok(more)
    }

    /// What the batch's `MessageCreated` entries need, read together per
    /// tenant: the messages with their files, their senders' names and
    /// their conversations' recipients.
    async fn prefetch(
        &self,
        tx: &mut sqlx::MySqlConnection,
        entries: &[Entry],
    ) -> AppResult<Batch> {
        let mut wanted: HashMap<TenantId, Vec<MessageId>> = HashMap::new();
        for entry in entries.iter().filter(|e| e.kind == LogKind::MessageCreated) {
            wanted
                .entry(entry.tenant_id)
                .or_default()
                .push(MessageId(entry.subject_id));
        }
        let mut batch = Batch::default();
        for (tenant, ids) in wanted {
            let mut messages = message::get_many(tx, tenant, &ids).await?;
            self.attach_with(tx, tenant, &mut messages).await?;
            let mut senders: Vec<ParticipantId> =
                messages.iter().filter_map(|m| m.sender_id).collect();
            senders.sort_unstable();
            senders.dedup();
            for p in participant::get_many(tx, tenant, &senders).await? {
                batch.names.insert((tenant, p.id), p.name);
            }
            let mut conversations: Vec<ConversationId> =
                messages.iter().map(|m| m.conversation_id).collect();
            conversations.sort_unstable();
            conversations.dedup();
            for &c in &conversations {
                batch.recipients.insert((tenant, c), vec![]);
            }
            for (c, p) in super::recipients_of(tx, tenant, &conversations).await? {
                batch.recipients.entry((tenant, c)).or_default().push(p);
            }
            batch
                .messages
                .extend(messages.into_iter().map(|m| (m.id, m)));
        }
        let mut everyone: Vec<ParticipantId> =
            batch.recipients.values().flatten().copied().collect();
        everyone.sort_unstable();
        everyone.dedup();
        batch.offline = self.offline_among(&everyone).await.into_iter().collect();
        Ok(batch)
    }

    /// What one log entry calls for.
    async fn notifications_of(
        &self,
        tx: &mut sqlx::MySqlConnection,
        entry: &Entry,
        batch: &mut Batch,
    ) -> AppResult<Vec<NewNotification>> {
        let names = &mut batch.names;
        let tenant = entry.tenant_id;
        let base = |participant, kind, title: String, body: String| NewNotification {
            tenant_id: tenant,
            participant_id: participant,
            kind,
            conversation_id: entry.conversation_id,
            subject_id: entry.subject_id,
            seq: entry.seq,
            title,
            body,
            at: entry.created_at,
        };
        Ok(match entry.kind {
            LogKind::MessageCreated => {
                let Some(m) = batch.messages.get(&MessageId(entry.subject_id)) else {
                    return Ok(vec![]);
                };
                let (Some(sender), false) = (m.sender_id, m.deleted_at.is_some()) else {
                    return Ok(vec![]);
                };
                if matches!(m.kind, MessageType::System | MessageType::Call) {
                    return Ok(vec![]);
                }
                let title = name_of(tx, names, tenant, sender).await?;
                let body: String = m.preview().chars().take(PREVIEW_CHARS).collect();
                let offline = batch
                    .recipients
                    .get(&(tenant, m.conversation_id))
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&p| p != sender && batch.offline.contains(&p));
                offline
                    .map(|p| base(p, NotificationKind::Message, title.clone(), body.clone()))
                    .collect()
            }
            LogKind::CallEnded => {
                let Some(c) = call::get(tx, tenant, CallId(entry.subject_id), false).await? else {
                    return Ok(vec![]);
                };
                if c.status != CallStatus::Missed {
                    return Ok(vec![]);
                }
                let title = name_of(tx, names, tenant, c.caller_id).await?;
                let body = format!("Missed {} call", c.call_type.as_str());
                vec![base(c.callee_id, NotificationKind::MissedCall, title, body)]
            }
            LogKind::ChatRequestCreated | LogKind::ChatRequestAnswered => {
                let id = ChatRequestId(entry.subject_id);
                let Some(r) = relationship::request(tx, tenant, id, false).await? else {
                    return Ok(vec![]);
                };
                match (entry.kind, r.status) {
                    (LogKind::ChatRequestCreated, _) => {
                        let title = name_of(tx, names, tenant, r.from_id).await?;
                        let body = r
                            .note
                            .clone()
                            .unwrap_or_else(|| "wants to chat with you".into());
                        vec![base(r.to_id, NotificationKind::ChatRequest, title, body)]
                    }
                    (_, status @ (ChatRequestStatus::Accepted | ChatRequestStatus::Declined)) => {
                        let title = name_of(tx, names, tenant, r.to_id).await?;
                        let body = format!("{} your chat request", status.as_str());
                        vec![base(
                            r.from_id,
                            NotificationKind::ChatRequestAnswered,
                            title,
                            body,
                        )]
                    }
                    _ => vec![],
                }
            }
            LogKind::ConsultationUpdated => {
                let id = ConsultationId(entry.subject_id);
                let Some(c) = relationship::get_consultation(tx, tenant, id).await? else {
                    return Ok(vec![]);
                };
                let user = name_of(tx, names, tenant, c.user_id).await?;
                let astrologer = name_of(tx, names, tenant, c.astrologer_id).await?;
                let status = c.status.as_str();
                vec![
                    base(
                        c.user_id,
                        NotificationKind::Consultation,
                        astrologer.clone(),
                        format!("Your consultation with {astrologer} is {status}"),
                    ),
                    base(
                        c.astrologer_id,
                        NotificationKind::Consultation,
                        user.clone(),
                        format!("Your consultation with {user} is {status}"),
                    ),
                ]
            }
            // Broadcasts are fanned out in chunks by `notify_from_log`.
            LogKind::MessageUpdated
            | LogKind::MessageDeleted
            | LogKind::CallStarted
            | LogKind::CallAnswered
            | LogKind::BroadcastSent
            | LogKind::ConversationCreated
            | LogKind::MemberAdded
            | LogKind::MemberRemoved
            | LogKind::ParticipantCreated => vec![],
        })
    }
}

/// The pushes a call's entry calls for: its start rings the callee's
/// phones at once; its answer or end stops them ringing.
async fn call_pushes(tx: &mut sqlx::MySqlConnection, entry: &Entry) -> AppResult<()> {
    let (kind, due_at) = match entry.kind {
        LogKind::CallStarted => (PushFor::Call, entry.created_at),
        LogKind::CallAnswered | LogKind::CallEnded => (PushFor::CallCancel, crate::domain::now()),
        _ => return Ok(()),
    };
    let Some(c) = call::get(tx, entry.tenant_id, CallId(entry.subject_id), false).await? else {
        return Ok(());
    };
    if kind == PushFor::CallCancel {
        let (tenant, callee, id) = (c.tenant_id, c.callee_id, c.id.0);
        let rang = push::made_for_call(tx, tenant, callee, id, PushFor::Call).await?;
        if !rang || push::made_for_call(tx, tenant, callee, id, PushFor::CallCancel).await? {
            return Ok(());
        }
    }
    let push = NewPush {
        tenant_id: c.tenant_id,
        participant_id: c.callee_id,
        kind,
        subject: c.id.0,
        due_at,
    };
    push::enqueue(tx, &push).await?;
    Ok(())
}

/// A participant's display name (looked up once per batch).
async fn name_of(
    tx: &mut sqlx::MySqlConnection,
    names: &mut HashMap<(TenantId, ParticipantId), String>,
    tenant: TenantId,
    id: ParticipantId,
) -> AppResult<String> {
    if let Some(name) = names.get(&(tenant, id)) {
        return Ok(name.clone());
    }
    let name = participant::get(tx, tenant, id)
        .await?
        .map_or_else(|| "Someone".to_owned(), |p| p.name);
    names.insert((tenant, id), name.clone());
    Ok(name)
}
