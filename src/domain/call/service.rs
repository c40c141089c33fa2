//! The call use cases: initiate, the transitions, the ring-timeout sweeper,
//! disconnect cleanup, signalling relay, tokens and history.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Call, CallAction, CallStatus, CallType, EndReason, Transport, free_lines, get, insert, live_of,
    next_deadline, overdue, take_lines, transition, update,
};
use crate::domain::{
    Actor, CallId, ConsultationId, ConversationId, Core, Page, ParticipantId, SessionId, TenantId,
    conversation::{self, DirectKey},
    cursor,
    events::DomainEvent,
    limits::Kind,
    message::MessageType,
    page_limit, participant, relationship,
};
use crate::error::{AppError, AppResult};

/// A call to place.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub callee: ParticipantId,
    pub call_type: CallType,
    pub transport: Transport,
    /// The conversation it belongs to (else the parties' general one).
    pub conversation: Option<ConversationId>,
    pub consultation: Option<ConsultationId>,
}

/// What one party needs to join the call's media: its uid in the channel
/// and, for Agora calls, its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallJoin {
    pub channel_name: String,
    pub uid: u32,
    pub token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Each party's join, issued when a call starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTokens {
    pub caller: CallJoin,
    pub callee: CallJoin,
}

/// Which signalling message a party relays (Backend1's WebRTC calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Offer,
    Answer,
    Candidate,
}

impl SignalKind {
    /// Largest payload accepted, serialized (an SDP is a few KiB).
    fn max_bytes(self) -> usize {
        match self {
            Self::Offer | Self::Answer => 16 * 1024,
            Self::Candidate => 2 * 1024,
        }
    }
}

/// A relayed signalling message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub kind: SignalKind,
    pub payload: serde_json::Value,
}

/// Filter of the call history.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// Calls with this participant as a party.
    pub participant: Option<ParticipantId>,
    pub call_type: Option<CallType>,
    pub status: Option<CallStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct HistoryKey(DateTime<Utc>, uuid::Uuid);

fn not_found() -> AppError {
    AppError::NotFound("call")
}

/// A uid in the channel: random, non-zero, different from `other`.
fn fresh_uid(other: u32) -> u32 {
    loop {
        let uid = rand::random::<u32>() & 0x7fff_ffff;
        if uid != 0 && uid != other {
            return uid;
        }
    }
}

impl Core {
    /// Places a call from the actor to `new.callee`: the relationship rules
    /// of messages apply; either party being in a live call makes it `busy`
    /// (recorded, then refused with 409 `busy`). Returns the call and the
    /// caller's join.
    pub async fn initiate_call(&self, actor: &Actor, new: NewCall) -> AppResult<(Call, CallJoin)> {
        let (tenant, me) = actor.participant()?;
        let settings = self.settings_of(tenant).await?;
        let mut conn = self.pool().acquire().await?;
        let caller = participant::get(&mut conn, tenant, me)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        let callee = participant::get(&mut conn, tenant, new.callee)
            .await?
            .ok_or(AppError::NotFound("participant"))?;
        relationship::may_contact(&mut conn, &caller, &callee).await?;
        let credentials = match new.transport {
            Transport::Agora => Some(self.agora_of(tenant).await?),
            Transport::Webrtc => None,
        };
        self.limits().check(
            tenant,
            Kind::CallsPerParticipant,
            settings.calls_per_participant,
            &me.to_string(),
        )?;
        drop(conn);
        let conversation = match new.conversation {
            Some(id) => {
                let (conversation, _) = self.membership(actor, id).await?;
                let members =
                    conversation::member_ids(&mut *self.pool().acquire().await?, tenant, id)
                        .await?;
                if !members.contains(&callee.id) {
                    return Err(AppError::validation(
                        "the callee is not a member of that conversation",
                    ));
                }
                conversation.id
            }
            None => {
                self.open_direct(actor, DirectKey::general(callee.id))
                    .await?
                    .id
            }
        };
        let now = crate::domain::now();
        let caller_uid = fresh_uid(0);
        let ringing = self.presence_registry().is_online(callee.id);
        let mut call = Call {
            tenant_id: tenant,
            id: CallId::new(),
            caller_id: me,
            caller_type: caller.kind,
            callee_id: callee.id,
            callee_type: callee.kind,
            call_type: new.call_type,
            transport: new.transport,
            status: if ringing {
                CallStatus::Ringing
            } else {
                CallStatus::Initiated
            },
            channel_name: format!("call_{}", uuid::Uuid::now_v7().simple()),
            caller_uid,
            callee_uid: fresh_uid(caller_uid),
            conversation_id: Some(conversation),
            consultation_id: new.consultation,
            initiated_at: now,
            ring_deadline: Some(now + settings.ring_timeout()),
            answered_at: None,
            ended_at: None,
            duration_secs: None,
            end_reason: None,
            ended_by: None,
            updated_at: now,
        };
        let mut tx = self.pool().begin().await?;
        insert(&mut tx, &call).await?;
        if !take_lines(&mut tx, &call).await? {
            call.status = CallStatus::Busy;
            call.end_reason = Some(EndReason::Busy);
            call.ring_deadline = None;
            call.ended_at = Some(now);
            update(&mut tx, &call).await?;
            tx.commit().await?;
            self.call_changed(&call, None, actor, None).await;
            return Err(AppError::conflict(
                "busy",
                "the other party (or you) is in another call",
            ));
        }
        tx.commit().await?;
        self.calls_wakeup.notify_one();
        let ttl = Duration::from_secs(settings.call_token_ttl_secs.into());
        let join = |uid| join(&call.channel_name, credentials.as_ref(), uid, ttl);
        let tokens = CallTokens {
            caller: join(call.caller_uid)?,
            callee: join(call.callee_uid)?,
        };
        let caller_join = tokens.caller.clone();
        self.call_changed(&call, None, actor, Some(tokens)).await;
        Ok((call, caller_join))
    }

    /// The callee picks up; returns the callee's join.
    pub async fn accept_call(&self, actor: &Actor, id: CallId) -> AppResult<(Call, CallJoin)> {
        let call = self.act(actor, id, CallAction::Accept).await?;
        let join = self.party_join(&call, actor.participant()?.1).await?;
        Ok((call, join))
    }

    /// The callee declines.
    pub async fn reject_call(&self, actor: &Actor, id: CallId) -> AppResult<Call> {
        self.act(actor, id, CallAction::Reject).await
    }

    /// A party says media is flowing (answered → ongoing).
    pub async fn call_connected(&self, actor: &Actor, id: CallId) -> AppResult<Call> {
        self.act(actor, id, CallAction::Connect).await
    }

    /// Hangs up, whatever the state: ends an answered call, cancels a
    /// ringing one (caller, or an admin), declines it (callee).
    pub async fn hang_up(&self, actor: &Actor, id: CallId) -> AppResult<Call> {
        let call = self.call(actor, id).await?;
        let action = if call.status.is_ringing() {
            match actor.participant() {
                Ok((_, me)) if me == call.callee_id => CallAction::Reject,
                _ => CallAction::Cancel,
            }
        } else {
            CallAction::End
        };
        self.act(actor, id, action).await
    }

    /// A fresh join for a party of a live call (token renewal, rejoin).
    pub async fn call_token(&self, actor: &Actor, id: CallId) -> AppResult<CallJoin> {
        let (_, me) = actor.participant()?;
        let call = self.call(actor, id).await?;
        if !call.has_party(me) {
            return Err(not_found());
        }
        if !call.status.is_live() {
            return Err(AppError::conflict("call_over", "this call is over"));
        }
        self.party_join(&call, me).await
    }

    /// A token for an admin to join a call of the tenant (or a channel of
    /// their own when no call is given): seed 004's `POST /api/calls/admin/token`.
    pub async fn admin_call_token(
        &self,
        actor: &Actor,
        call: Option<CallId>,
    ) -> AppResult<CallJoin> {
        let tenant = actor.tenant()?;
        if !actor.is_admin() {
            return Err(AppError::forbidden("only admins get admin call tokens"));
        }
        let channel = match call {
            Some(id) => {
                let call = self.call(actor, id).await?;
                if !call.status.is_live() {
                    return Err(AppError::conflict("call_over", "this call is over"));
                }
                call.channel_name
            }
            None => format!("admin_{}", uuid::Uuid::now_v7().simple()),
        };
        let credentials = self.agora_of(tenant).await?;
        let settings = self.settings_of(tenant).await?;
        let ttl = Duration::from_secs(settings.call_token_ttl_secs.into());
        join(&channel, Some(&credentials), fresh_uid(0), ttl)
    }

    /// A call the actor may see: its parties, and the tenant's admins (and
    /// API keys). Anyone else gets a 404.
    pub async fn call(&self, actor: &Actor, id: CallId) -> AppResult<Call> {
        let tenant = actor.tenant()?;
        let call = get(&mut *self.pool().acquire().await?, tenant, id, false)
            .await?
            .ok_or_else(not_found)?;
        let party = actor.participant().is_ok_and(|(_, me)| call.has_party(me));
        if !party && !actor.sees_everyone() {
            return Err(not_found());
        }
        Ok(call)
    }

    /// The call history the actor may see, newest first.
    pub async fn call_history(&self, actor: &Actor, filter: CallFilter) -> AppResult<Page<Call>> {
        let tenant = actor.tenant()?;
        let limit = page_limit(filter.limit);
        let mut sql = format!("SELECT {} FROM calls WHERE tenant_id = ?", super::COLUMNS);
        let mine = if actor.sees_everyone() {
            None
        } else {
            sql.push_str(" AND (caller_id = ? OR callee_id = ?)");
            Some(actor.participant()?.1)
        };
        if filter.participant.is_some() {
            sql.push_str(" AND (caller_id = ? OR callee_id = ?)");
        }
        if filter.call_type.is_some() {
            sql.push_str(" AND call_type = ?");
        }
        if filter.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        if filter.from.is_some() {
            sql.push_str(" AND initiated_at >= ?");
        }
        if filter.to.is_some() {
            sql.push_str(" AND initiated_at < ?");
        }
        let after = filter
            .cursor
            .as_deref()
            .map(cursor::decode::<HistoryKey>)
            .transpose()?;
        if after.is_some() {
            sql.push_str(" AND (initiated_at, id) < (?, ?)");
        }
        sql.push_str(" ORDER BY initiated_at DESC, id DESC LIMIT ?");
        let mut query = sqlx::query_as::<_, Call>(&sql).bind(tenant);
        if let Some(me) = mine {
            query = query.bind(me).bind(me);
        }
        if let Some(p) = filter.participant {
            query = query.bind(p).bind(p);
        }
        if let Some(t) = filter.call_type {
            query = query.bind(t);
        }
        if let Some(s) = filter.status {
            query = query.bind(s);
        }
        // As DATETIME: a TIMESTAMP parameter cannot hold years past 2038.
        if let Some(from) = filter.from {
            query = query.bind(from.naive_utc());
        }
        if let Some(to) = filter.to {
            query = query.bind(to.naive_utc());
        }
        if let Some(HistoryKey(at, id)) = after {
            query = query.bind(at).bind(id);
        }
        let rows = query
            .bind(limit + 1)
            .fetch_all(&mut *self.pool().acquire().await?)
            .await?;
        Ok(cursor::page(rows, limit, |c| {
            HistoryKey(c.initiated_at, c.id.0)
        }))
    }

    /// Relays a WebRTC signalling message to the other party of a live call.
    pub async fn relay_signal(&self, actor: &Actor, id: CallId, signal: Signal) -> AppResult<()> {
        let (_, me) = actor.participant()?;
        let size = serde_json::to_vec(&signal.payload)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > signal.kind.max_bytes() {
            return Err(AppError::PayloadTooLarge {
                limit: signal.kind.max_bytes(),
            });
        }
        let call = self.call(actor, id).await?;
        if !call.has_party(me) {
            return Err(not_found());
        }
        if !call.status.is_live() {
            return Err(AppError::conflict("call_over", "this call is over"));
        }
        self.events()
            .publish(DomainEvent::CallSignal {
                call: Arc::new(call),
                from: me,
                signal,
            })
            .await;
        Ok(())
    }

    /// Ends the live calls of a participant whose last connection dropped
    /// and did not come back within the grace period.
    pub async fn participant_gone(&self, tenant: TenantId, participant: ParticipantId) {
        let live = match live_of(
            &mut *match self.pool().acquire().await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(error = %err, "call cleanup: no database connection");
                    return;
                }
            },
            tenant,
            participant,
        )
        .await
        {
            Ok(live) => live,
            Err(err) => {
                tracing::warn!(error = %err, "call cleanup: reading live calls failed");
                return;
            }
        };
        for id in live {
            if let Err(err) = self
                .apply(tenant, id, CallAction::Drop, Some(participant), None)
                .await
            {
                tracing::warn!(error = %err, call = %id, "call cleanup failed");
            }
        }
    }

    /// Times out every ringing call whose deadline passed; returns how many.
    pub async fn sweep_calls(&self) -> AppResult<usize> {
        let now = crate::domain::now();
        let due = overdue(&mut *self.pool().acquire().await?, now, 200).await?;
        let mut done = 0;
        for (tenant, id) in due {
            match self
                .apply(tenant, id, CallAction::Timeout, None, None)
                .await
            {
                Ok(_) => done += 1,
                // Answered or ended meanwhile (maybe on another node).
                Err(AppError::Conflict { .. }) | Err(AppError::NotFound(_)) => {
                    self.clear_deadline(tenant, id).await?;
                }
                Err(err) => return Err(err),
            }
        }
        Ok(done)
    }

    /// The nearest stored ring deadline of any tenant: when the sweeper
    /// (`workers::call_sweeper`) should next call [`Core::sweep_calls`].
    pub async fn next_call_deadline(&self) -> AppResult<Option<DateTime<Utc>>> {
        next_deadline(&mut *self.pool().acquire().await?).await
    }

    /// Resolves when a call starts ringing, so the sweeper wakes early.
    pub async fn call_started(&self) {
        self.calls_wakeup.notified().await;
    }

    async fn clear_deadline(&self, tenant: TenantId, id: CallId) -> AppResult<()> {
        sqlx::query("UPDATE calls SET ring_deadline = NULL WHERE tenant_id = ? AND id = ? AND status NOT IN ('initiated', 'ringing')")
            .bind(tenant)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A person's action on a call, checked against who they are.
    async fn act(&self, actor: &Actor, id: CallId, action: CallAction) -> AppResult<Call> {
        let tenant = actor.tenant()?;
        let call = self.call(actor, id).await?;
        let me = actor.participant().ok().map(|(_, me)| me);
        let allowed = match action {
            CallAction::Accept | CallAction::Reject => me == Some(call.callee_id),
            CallAction::Connect => me.is_some_and(|me| call.has_party(me)),
            CallAction::Cancel | CallAction::End => {
                me.is_some_and(|me| call.has_party(me)) || actor.is_admin()
            }
            CallAction::Ring | CallAction::Timeout | CallAction::Drop => false,
        };
        if !allowed {
            return Err(AppError::forbidden(format!(
                "you cannot {} this call",
                action.as_str()
            )));
        }
        let session = actor.session().ok();
        self.apply(tenant, id, action, me, session).await
    }

    /// Applies a transition under the row lock: an illegal one is a 409 and
    /// changes nothing. Publishes the change; a call that ended gets its
    /// entry in the conversation.
    async fn apply(
        &self,
        tenant: TenantId,
        id: CallId,
        action: CallAction,
        by: Option<ParticipantId>,
        session: Option<SessionId>,
    ) -> AppResult<Call> {
        let mut tx = self.pool().begin().await?;
        let mut call = get(&mut tx, tenant, id, true)
            .await?
            .ok_or_else(not_found)?;
        let now = crate::domain::now();
        if action == CallAction::Timeout && call.ring_deadline.is_none_or(|d| d > now) {
            return Err(AppError::conflict(
                "not_due",
                "this call is not due to time out",
            ));
        }
        let (status, reason) = transition(call.status, action).ok_or_else(|| {
            AppError::conflict(
                "illegal_transition",
                format!(
                    "cannot {} a call that is {}",
                    action.as_str(),
                    call.status.as_str()
                ),
            )
        })?;
        call.status = status;
        call.updated_at = now;
        if !status.is_ringing() {
            call.ring_deadline = None;
        }
        if action == CallAction::Accept {
            call.answered_at = Some(now);
        }
        if let Some(reason) = reason {
            call.end_reason = Some(reason);
            call.ended_at = Some(now);
            call.ended_by = by;
            call.duration_secs = call.answered_at.map(|answered| {
                u32::try_from((now - answered).num_seconds().max(0)).unwrap_or(u32::MAX)
            });
            free_lines(&mut tx, tenant, id).await?;
        }
        update(&mut tx, &call).await?;
        tx.commit().await?;
        let actor_like = (by, session);
        self.publish_call(&call, Some(action), actor_like, None)
            .await;
        Ok(call)
    }

    async fn call_changed(
        &self,
        call: &Call,
        action: Option<CallAction>,
        actor: &Actor,
        tokens: Option<CallTokens>,
    ) {
        let by = actor.participant().ok().map(|(_, me)| me);
        self.publish_call(call, action, (by, actor.session().ok()), tokens)
            .await;
    }

    async fn publish_call(
        &self,
        call: &Call,
        action: Option<CallAction>,
        (by, session): (Option<ParticipantId>, Option<SessionId>),
        tokens: Option<CallTokens>,
    ) {
        self.events()
            .publish(DomainEvent::CallChanged {
                call: Arc::new(call.clone()),
                action,
                by,
                by_session: session,
                tokens: tokens.map(Arc::new),
            })
            .await;
        if !call.status.is_live() {
            self.write_call_entry(call).await;
        }
    }

    /// The call's entry in its conversation, through the messaging core.
    async fn write_call_entry(&self, call: &Call) {
        let Some(conversation) = call.conversation_id else {
            return;
        };
        let metadata = serde_json::json!({
            "callId": call.id,
            "callType": call.call_type.as_str(),
            "status": call.status.as_str(),
            "endReason": call.end_reason.map(EndReason::as_str),
            "duration": call.duration_secs,
            "callerId": call.caller_id,
        });
        if let Err(err) = self
            .post_system_message(
                call.tenant_id,
                conversation,
                MessageType::Call,
                Some(call.caller_id),
                call.summary(),
                metadata,
            )
            .await
        {
            tracing::warn!(error = %err, call = %call.id, "writing the call's entry failed");
        }
    }

    /// A party's join for the call's media.
    async fn party_join(&self, call: &Call, party: ParticipantId) -> AppResult<CallJoin> {
        let uid = if party == call.caller_id {
            call.caller_uid
        } else {
            call.callee_uid
        };
        let credentials = match call.transport {
            Transport::Agora => Some(self.agora_of(call.tenant_id).await?),
            Transport::Webrtc => None,
        };
        let settings = self.settings_of(call.tenant_id).await?;
        let ttl = Duration::from_secs(settings.call_token_ttl_secs.into());
        join(&call.channel_name, credentials.as_ref(), uid, ttl)
    }
}

/// `uid`'s join of `channel`: with a token for Agora calls.
fn join(
    channel: &str,
    credentials: Option<&crate::agora::AgoraCredentials>,
    uid: u32,
    ttl: Duration,
) -> AppResult<CallJoin> {
    let Some(credentials) = credentials else {
        return Ok(CallJoin {
            channel_name: channel.to_owned(),
            uid,
            token: None,
            expires_at: None,
        });
    };
    let secs = u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX);
    let token = super::credentials::rtc_token(credentials, channel, uid, secs)?;
    Ok(CallJoin {
        channel_name: channel.to_owned(),
        uid,
        token: Some(token),
        expires_at: Some(crate::domain::now() + ttl),
    })
}
