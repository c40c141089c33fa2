//! Expanding due pushes into deliveries: who gets one and what it says.
//! A push is skipped, with the reason kept, when its participant is online
//! again (the socket told them), asked for none, is in quiet hours, muted
//! the conversation, has read it meanwhile, or has no device a configured
//! provider reaches. Otherwise each device gets a delivery whose payload is
//! fixed here, so retries send the same.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{Acquire, MySqlConnection};
use uuid::Uuid;

use super::PushFor;
use crate::{
    delivery::push::{PushKind, PushMessage},
    domain::{
        CallId, ConversationId, Core, ParticipantId, TenantId, call,
        device::{self, Device, Platform},
        message,
        notification::{
            self, NotificationKind,
            preferences::{self, PushLevel},
        },
        participant,
    },
    error::AppResult,
};

/// How long a provider keeps trying to reach a phone with an alert.
const ALERT_TTL_SECS: u32 = 24 * 3600;

/// A due push, as read.
#[derive(sqlx::FromRow)]
pub(super) struct Due {
    pub(super) tenant_id: TenantId,
    pub(super) id: Uuid,
    pub(super) participant_id: ParticipantId,
    pub(super) kind: PushFor,
    pub(super) notification_id: Option<Uuid>,
    pub(super) call_id: Option<Uuid>,
}

/// What becomes of a due push.
pub(super) enum Plan {
    Skip(&'static str),
    Send(Vec<(Device, PushMessage)>),
}

impl Core {
    /// Expands up to `limit` due pushes (with several nodes, each takes
    /// others' leftovers: `SKIP LOCKED`); returns how many.
    pub async fn expand_pushes(&self, limit: u32) -> AppResult<usize> {
        let now = crate::domain::now();
        let mut conn = self.pool().acquire().await?;
        let mut tx = conn.begin().await?;
        let due: Vec<Due> = sqlx::query_as(
            "SELECT tenant_id, id, participant_id, kind, notification_id, call_id FROM pushes
             WHERE state = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?
             FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        release_pending_keys(&mut tx, &due).await?;
        let mut reach: HashMap<TenantId, HashSet<Platform>> = HashMap::new();
        for push in &due {
            let providers = match reach.get(&push.tenant_id) {
                Some(p) => p.clone(),
                None => {
                    let p = self.reachable(&mut tx, push.tenant_id).await?;
                    reach.insert(push.tenant_id, p.clone());
                    p
                }
            };
            // Each push in a savepoint: one that cannot be planned is
            // skipped with the error, and does not hold up the others.
            let mut one = tx.begin().await?;
            let (state, reason) = match self.expand_one(&mut one, push, &providers, now).await {
                Ok(outcome) => {
                    one.commit().await?;
                    outcome
                }
                Err(err) => {
                    one.rollback().await?;
                    tracing::warn!(push = %push.id, error = %err, "a push could not be planned");
                    ("skipped", Some("error"))
                }
            };
            sqlx::query(
                "UPDATE pushes SET state = ?, reason = ?, pending_key = NULL
                 WHERE tenant_id = ? AND id = ?",
            )
            .bind(state)
            .bind(reason)
            .bind(push.tenant_id)
            .bind(push.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(due.len())
    }

    /// Plans one push and writes its deliveries; returns its new state and
    /// why it was skipped.
    async fn expand_one(
        &self,
        conn: &mut MySqlConnection,
        push: &Due,
        providers: &HashSet<Platform>,
        now: DateTime<Utc>,
    ) -> AppResult<(&'static str, Option<&'static str>)> {
        let plan = match push.kind {
            PushFor::Notification => self.plan_notification(conn, push, now).await?,
            PushFor::Call => self.plan_call(conn, push, now).await?,
            PushFor::CallCancel => self.plan_cancel(conn, push, now).await?,
        };
        let to: Vec<_> = match plan {
            Plan::Skip(reason) => return Ok(("skipped", Some(reason))),
            Plan::Send(to) => to
                .into_iter()
                .filter(|(d, _)| providers.contains(&d.platform))
                .collect(),
        };
        if to.is_empty() {
            return Ok(("skipped", Some("no_devices")));
        }
        for (device, message) in to {
            insert_delivery(conn, push, &device, &message, now).await?;
        }
        Ok(("expanded", None))
    }

    /// The providers that can reach the tenant's devices: those with
    /// credentials, and in development (the outbox file) all.
    async fn reachable(
        &self,
        conn: &mut MySqlConnection,
        tenant: TenantId,
    ) -> AppResult<HashSet<Platform>> {
        if self.delivery().push().has_outbox() {
            return Ok(HashSet::from([Platform::Fcm, Platform::Apns]));
        }
        let set: Vec<Platform> =
            sqlx::query_scalar("SELECT provider FROM tenant_push WHERE tenant_id = ?")
                .bind(tenant)
                .fetch_all(conn)
                .await?;
        Ok(set.into_iter().collect())
    }

    async fn plan_notification(
        &self,
        conn: &mut MySqlConnection,
        push: &Due,
        now: DateTime<Utc>,
    ) -> AppResult<Plan> {
        let (tenant, who) = (push.tenant_id, push.participant_id);
        let Some(id) = push.notification_id else {
            return Ok(Plan::Skip("deleted"));
        };
        let Some(n) = notification::get(conn, tenant, who, id).await? else {
            return Ok(Plan::Skip("deleted"));
        };
        if n.read_at.is_some() {
            return Ok(Plan::Skip("read"));
        }
        if self.is_online(who).await {
            return Ok(Plan::Skip("online"));
        }
        let chat = n.kind == NotificationKind::Message;
        if let Some(skip) = self.unwanted(conn, tenant, who, chat, now).await? {
            return Ok(Plan::Skip(skip));
        }
        if let (true, Some(c)) = (chat, n.conversation_id)
            && muted(conn, tenant, c, who).await?
        {
            return Ok(Plan::Skip("muted"));
        }
        let hide = self.settings_of(tenant).await?.push_hide_text;
        let body = match (chat && hide, n.count) {
            (false, _) => n.body.clone(),
            (true, 1) => "New message".to_owned(),
            (true, count) => format!("{count} new messages"),
        };
        let mut data = BTreeMap::from([
            ("type".to_owned(), n.kind.as_str().to_owned()),
            ("notificationId".to_owned(), n.id.to_string()),
            ("count".to_owned(), n.count.to_string()),
        ]);
        if let Some(c) = n.conversation_id {
            data.insert("conversationId".into(), c.0.to_string());
        }
        if let Some(seq) = n.seq {
            data.insert("seq".into(), seq.to_string());
        }
        let message = PushMessage {
            kind: PushKind::Alert,
            title: n.title.clone(),
            body,
            badge: Some(
                u32::try_from(message::total_unread(conn, tenant, who).await?).unwrap_or(u32::MAX),
            ),
            thread: n
                .conversation_id
                .map_or_else(|| n.kind.as_str().to_owned(), |c| c.0.simple().to_string()),
            collapse_id: n.id.simple().to_string(),
            data,
            ttl_secs: ALERT_TTL_SECS,
        };
        let devices = device::of_participant(conn, tenant, who, now).await?;
        Ok(Plan::Send(
            devices
                .into_iter()
                .filter(|d| !d.voip)
                .map(|d| (d, message.clone()))
                .collect(),
        ))
    }

    async fn plan_call(
        &self,
        conn: &mut MySqlConnection,
        push: &Due,
        now: DateTime<Utc>,
    ) -> AppResult<Plan> {
        let (tenant, who) = (push.tenant_id, push.participant_id);
        let Some(id) = push.call_id else {
            return Ok(Plan::Skip("call_over"));
        };
        let Some(c) = call::get(conn, tenant, CallId(id), false).await? else {
            return Ok(Plan::Skip("call_over"));
        };
        if !c.status.is_ringing() {
            return Ok(Plan::Skip("call_over"));
        }
        if let Some(skip) = self.unwanted(conn, tenant, who, false, now).await? {
            return Ok(Plan::Skip(skip));
        }
        let caller = participant::get(conn, tenant, c.caller_id)
            .await?
            .map_or_else(|| "Someone".to_owned(), |p| p.name);
        let ttl = c
            .ring_deadline
            .map_or(60, |d| (d - now).num_seconds().clamp(1, 600) as u32);
        let mut data = BTreeMap::from([
            ("type".to_owned(), "call".to_owned()),
            ("callId".to_owned(), c.id.0.to_string()),
            ("callType".to_owned(), c.call_type.as_str().to_owned()),
            ("callerId".to_owned(), c.caller_id.0.to_string()),
            ("callerName".to_owned(), caller.clone()),
        ]);
        if let Some(conversation) = c.conversation_id {
            data.insert("conversationId".into(), conversation.0.to_string());
        }
        let message = PushMessage {
            kind: PushKind::Call,
            title: caller,
            body: format!("Incoming {} call", c.call_type.as_str()),
            badge: None,
            thread: "calls".into(),
            collapse_id: format!("call-{}", c.id.0.simple()),
            data,
            ttl_secs: ttl,
        };
        let devices = device::of_participant(conn, tenant, who, now).await?;
        // An iPhone with a VoIP token rings through PushKit, not an alert.
        let has_voip = devices.iter().any(|d| d.voip);
        Ok(Plan::Send(
            devices
                .into_iter()
                .filter(|d| d.voip || d.platform == Platform::Fcm || !has_voip)
                .map(|d| (d, message.clone()))
                .collect(),
        ))
    }

    /// Why the participant does not want this push now, if they don't:
    /// preferences (`chat`: a plain message, which mentions-and-calls
    /// leaves out) and quiet hours.
    async fn unwanted(
        &self,
        conn: &mut MySqlConnection,
        tenant: TenantId,
        who: ParticipantId,
        chat: bool,
        now: DateTime<Utc>,
    ) -> AppResult<Option<&'static str>> {
        let prefs = preferences::load(conn, tenant, who).await?;
        Ok(match prefs.push {
            PushLevel::None => Some("preferences"),
            PushLevel::MentionsAndCalls if chat => Some("preferences"),
            _ if prefs.quiet.is_some_and(|q| q.contains(now)) => Some("quiet_hours"),
            _ => None,
        })
    }
}

/// Frees the claimed pushes' `pending_key`s at once, before planning them:
/// a push enqueued meanwhile for the same subject is a new one, not folded
/// into these. Taken at the end of the batch (as first written), the keys
/// were still held while the inbox, holding the keys it had just written,
/// waited for these rows: a deadlock, several a second under load.
async fn release_pending_keys(conn: &mut MySqlConnection, due: &[Due]) -> sqlx::Result<()> {
    if due.is_empty() {
        return Ok(());
    }
    let mut query = sqlx::QueryBuilder::new(
        "UPDATE pushes SET pending_key = NULL WHERE pending_key IS NOT NULL AND (tenant_id, id) IN ",
    );
    crate::domain::lists::push_pairs(&mut query, due.iter().map(|p| (p.tenant_id, p.id)));
    query.build().execute(conn).await.map(|_| ())
}

async fn muted(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    conversation: ConversationId,
    who: ParticipantId,
) -> sqlx::Result<bool> {
    let muted: Option<bool> = sqlx::query_scalar(
        "SELECT muted FROM conversation_members
         WHERE tenant_id = ? AND conversation_id = ? AND participant_id = ? AND left_at IS NULL",
    )
    .bind(tenant)
    .bind(conversation)
    .bind(who)
    .fetch_optional(conn)
    .await?;
    // Gone from the conversation: nothing to hear of it.
    Ok(muted.unwrap_or(true))
}

async fn insert_delivery(
    conn: &mut MySqlConnection,
    push: &Due,
    device: &Device,
    message: &PushMessage,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT IGNORE INTO push_deliveries (tenant_id, id, push_id, participant_id, device_id,
             provider, kind, payload, state, attempts, next_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
    )
    .bind(push.tenant_id)
    .bind(Uuid::now_v7())
    .bind(push.id)
    .bind(push.participant_id)
    .bind(device.id)
    .bind(device.platform)
    .bind(message.kind)
    .bind(sqlx::types::Json(message))
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
