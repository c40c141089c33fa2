//! The call use cases on [`Core`]: placing a call and moving it through
//! the state machine (accept, reject, connect, hang up), publishing each
//! change and writing the ended call's entry in its conversation. Joins and
//! signalling are in `media`, reading in `read`, the upkeep in `sweeper`.

use std::{sync::Arc, time::Duration};

use super::{
    Call, CallAction, CallJoin, CallStatus, CallType, EndReason, Transport,
    entries::owe_entry,
    free_lines, get, insert,
    media::{fresh_uid, join},
    read::not_found,
    take_lines, transition, update,
};
use crate::domain::{
    Actor, CallId, ConsultationId, ConversationId, Core, ParticipantId, SessionId, TenantId,
    conversation::{self, DirectKey},
    events::DomainEvent,
    limits::Kind,
    log::{self, LogKind, NewEntry},
    participant, relationship,
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

/// Each party's join, issued when a call starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTokens {
    pub caller: CallJoin,
    pub callee: CallJoin,
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
        self.limits()
            .check(
                tenant,
                Kind::CallsPerParticipant,
                settings.calls_per_participant,
                &me.to_string(),
            )
            .await?;
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
        let ringing = self.is_online(callee.id).await;
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
            write_end(&mut tx, &call).await?;
            tx.commit().await?;
            self.call_changed(&call, None, actor, None).await;
            return Err(AppError::conflict(
                "busy",
                "the other party (or you) is in another call",
            ));
        }
        log::append(&mut tx, &[entry(&call, LogKind::CallStarted)]).await?;
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
    pub(super) async fn apply(
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
        if reason.is_some() {
            write_end(&mut tx, &call).await?;
        } else {
            update(&mut tx, &call).await?;
            if action == CallAction::Accept {
                log::append(&mut tx, &[entry(&call, LogKind::CallAnswered)]).await?;
            }
        }
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
}

/// Writes a call that has just ended, in its end's transaction: its row,
/// the entry it now owes its conversation, and its log entry.
async fn write_end(tx: &mut sqlx::MySqlConnection, call: &Call) -> sqlx::Result<()> {
    update(tx, call).await?;
    if call.conversation_id.is_some() {
        owe_entry(tx, call).await?;
    }
    log::append(tx, &[entry(call, LogKind::CallEnded)]).await?;
    Ok(())
}

/// The log's entry of `kind` about a call.
fn entry(call: &Call, kind: LogKind) -> NewEntry {
    NewEntry::new(call.tenant_id, kind, call.id).in_conversation(call.conversation_id)
}
