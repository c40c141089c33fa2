//! Calls on the wire: a call, a party's join (channel, uid, token) and the
//! request that places a call, in every spelling the seeds use
//! (`calleeId`/`to`/`astrologerId`, `callType`/`type`).

use poem_openapi::Object;
use serde::Deserialize;

use crate::{
    domain::{
        ConsultationId, ConversationId, ParticipantId,
        call::{Call, CallJoin, CallType, NewCall, Transport},
    },
    error::{AppError, AppResult},
};

/// A call, as both parties (and the tenant's admins) see it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CallView {
    pub id: uuid::Uuid,
    /// Same as `id`.
    pub call_id: uuid::Uuid,
    pub caller_id: uuid::Uuid,
    pub caller_type: String,
    pub callee_id: uuid::Uuid,
    pub callee_type: String,
    /// `voice` or `video`.
    pub call_type: String,
    /// `agora` (media through Agora) or `webrtc` (peer to peer, signalling relayed).
    pub transport: String,
    /// initiated, ringing, answered, ongoing, ended, rejected, missed, failed or busy.
    pub status: String,
    pub channel_name: String,
    /// Same as `channelName` (seed 004's field).
    pub agora_channel_name: String,
    pub caller_uid: u32,
    pub callee_uid: u32,
    pub conversation_id: Option<uuid::Uuid>,
    pub consultation_id: Option<uuid::Uuid>,
    pub initiated_at: chrono::DateTime<chrono::Utc>,
    /// While ringing: when it will be missed.
    pub ring_deadline: Option<chrono::DateTime<chrono::Utc>>,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Seconds from answer to end, computed by the server.
    pub duration: Option<u32>,
    /// completed, rejected, no_answer, network_error, cancelled or busy.
    pub end_reason: Option<String>,
    pub ended_by: Option<uuid::Uuid>,
}

impl From<&Call> for CallView {
    fn from(c: &Call) -> Self {
        Self {
            id: c.id.0,
            call_id: c.id.0,
            caller_id: c.caller_id.0,
            caller_type: c.caller_type.as_str().to_owned(),
            callee_id: c.callee_id.0,
            callee_type: c.callee_type.as_str().to_owned(),
            call_type: c.call_type.as_str().to_owned(),
            transport: c.transport.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            channel_name: c.channel_name.clone(),
            agora_channel_name: c.channel_name.clone(),
            caller_uid: c.caller_uid,
            callee_uid: c.callee_uid,
            conversation_id: c.conversation_id.map(|id| id.0),
            consultation_id: c.consultation_id.map(|id| id.0),
            initiated_at: c.initiated_at,
            ring_deadline: c.ring_deadline,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            duration: c.duration_secs,
            end_reason: c.end_reason.map(|r| r.as_str().to_owned()),
            ended_by: c.ended_by.map(|p| p.0),
        }
    }
}

/// What one party needs to join the media: the channel, its uid and (for
/// Agora calls) its token.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct JoinView {
    pub channel_name: String,
    pub uid: u32,
    /// Agora RTC token (AccessToken2); absent for WebRTC calls.
    pub token: Option<String>,
    /// Same as `token` (seed 004's field).
    pub agora_token: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&CallJoin> for JoinView {
    fn from(j: &CallJoin) -> Self {
        Self {
            channel_name: j.channel_name.clone(),
            uid: j.uid,
            token: j.token.clone(),
            agora_token: j.token.clone(),
            expires_at: j.expires_at,
        }
    }
}

/// A call and the acting party's join.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CallJoinView {
    pub call: CallView,
    pub call_id: uuid::Uuid,
    pub channel_name: String,
    pub uid: u32,
    pub token: Option<String>,
    pub agora_token: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl CallJoinView {
    pub fn of(call: &Call, join: &CallJoin) -> Self {
        let j = JoinView::from(join);
        Self {
            call: call.into(),
            call_id: call.id.0,
            channel_name: j.channel_name,
            uid: j.uid,
            token: j.token,
            agora_token: j.agora_token,
            expires_at: j.expires_at,
        }
    }
}

/// Place a call.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct InitiateRequest {
    /// Who to call.
    pub callee_id: Option<uuid::Uuid>,
    /// Same as `calleeId` (admins calling an astrologer, seed 004).
    pub astrologer_id: Option<uuid::Uuid>,
    /// Accepted for the seeds' clients; the server knows the callee's type.
    pub callee_type: Option<String>,
    /// `voice` (default) or `video`.
    pub call_type: Option<String>,
    /// The conversation the call belongs to (default: the two parties' own).
    pub conversation_id: Option<uuid::Uuid>,
    pub consultation_id: Option<uuid::Uuid>,
}

impl InitiateRequest {
    /// The one mapping of a placed call's spellings onto the core's input.
    pub fn into_new(self, transport: Transport) -> AppResult<NewCall> {
        let callee = self
            .callee_id
            .or(self.astrologer_id)
            .ok_or_else(|| AppError::validation("give calleeId"))?;
        Ok(NewCall {
            callee: ParticipantId(callee),
            call_type: match self.call_type.as_deref() {
                Some(t) => CallType::parse(t)?,
                None => CallType::Voice,
            },
            transport,
            conversation: self.conversation_id.map(ConversationId),
            consultation: self.consultation_id.map(ConsultationId),
        })
    }
}

/// A call placed over Socket.IO: the fields of [`InitiateRequest`] plus
/// the spellings only socket clients send (`to` for `calleeId`, `type` for
/// `callType`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceCall {
    callee_id: Option<uuid::Uuid>,
    to: Option<uuid::Uuid>,
    astrologer_id: Option<uuid::Uuid>,
    call_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    conversation_id: Option<uuid::Uuid>,
    consultation_id: Option<uuid::Uuid>,
}

impl From<PlaceCall> for InitiateRequest {
    fn from(p: PlaceCall) -> Self {
        Self {
            callee_id: p.callee_id.or(p.to),
            astrologer_id: p.astrologer_id,
            callee_type: None,
            call_type: p.call_type.or(p.kind),
            conversation_id: p.conversation_id,
            consultation_id: p.consultation_id,
        }
    }
}

impl PlaceCall {
    pub fn into_new(self, transport: Transport) -> AppResult<NewCall> {
        InitiateRequest::from(self).into_new(transport)
    }
}
