//! Joining a call's media and signalling on [`Core`]: each party's channel
//! uid and (for Agora) token, token renewal, admins' tokens, and the WebRTC
//! signalling relay.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use super::{Call, Transport, read::not_found};
use crate::{
    domain::{Actor, CallId, Core, ParticipantId, events::DomainEvent},
    error::{AppError, AppResult},
};

/// What one party needs to join the call's media: its uid in the channel
/// and, for Agora calls, its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallJoin {
    pub channel_name: String,
    pub uid: u32,
    pub token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
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

/// A uid in the channel: random, non-zero, different from `other`.
pub(super) fn fresh_uid(other: u32) -> u32 {
    loop {
        let uid = rand::random::<u32>() & 0x7fff_ffff;
        if uid != 0 && uid != other {
            return uid;
        }
    }
}

/// `uid`'s join of `channel`: with a token for Agora calls.
pub(super) fn join(
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

impl Core {
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

    /// A party's join for the call's media.
    pub(super) async fn party_join(
        &self,
        call: &Call,
        party: ParticipantId,
    ) -> AppResult<CallJoin> {
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
