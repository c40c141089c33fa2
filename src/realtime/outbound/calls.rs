//! What each call event becomes on the wire: `call:incoming` with the
//! callee's own token, `call:initiated`, the outcomes to both parties (not
//! to the acting device), and relayed WebRTC signals to the other party.

use serde_json::{Value, json};

use super::{Action, Emit};
use crate::{
    domain::{
        ParticipantId,
        call::{Call, CallAction, CallStatus, SignalKind, Transport},
        events::DomainEvent,
        participant::Participant,
    },
    realtime::rooms::{self, Names},
    wire::{
        call::{CallView, JoinView},
        to_value,
    },
};

fn emit(to: Vec<String>, except: Vec<String>, event: &'static str, data: Value) -> Action {
    Action::Emit(Emit {
        to,
        except,
        names: Names::every(event),
        data,
    })
}

/// What a call event becomes on the wire. `caller` is the caller's profile
/// (for `call:incoming`), when it could be read.
pub fn plan(event: &DomainEvent, caller: Option<&Participant>) -> Vec<Action> {
    match event {
        DomainEvent::CallChanged {
            call,
            action,
            by_session,
            tokens,
            ..
        } => {
            let data = to_value(&CallView::from(call.as_ref()));
            let not_acting = by_session
                .map(rooms::session)
                .into_iter()
                .collect::<Vec<_>>();
            let both = rooms::users(&call.parties());
            let caller_room = vec![rooms::user(call.caller_id)];
            let callee_room = vec![rooms::user(call.callee_id)];
            let mut actions = match action {
                None if call.status == CallStatus::Busy => vec![
                    emit(caller_room, vec![], "call:busy", data.clone()),
                    emit(callee_room, vec![], "call:missed", data.clone()),
                ],
                None => {
                    let Some(tokens) = tokens else {
                        return vec![];
                    };
                    let mut incoming = with_join(&data, &JoinView::from(&tokens.callee));
                    if let Some(p) = caller {
                        incoming["callerName"] = json!(p.name);
                        incoming["callerPhone"] = json!(p.phone);
                        incoming["callerAvatar"] = json!(p.avatar_url);
                    }
                    vec![
                        emit(callee_room, vec![], "call:incoming", incoming),
                        emit(
                            caller_room,
                            vec![],
                            "call:initiated",
                            with_join(&data, &JoinView::from(&tokens.caller)),
                        ),
                    ]
                }
                Some(CallAction::Accept) => vec![
                    emit(caller_room, vec![], "call:accepted", data.clone()),
                    emit(
                        callee_room,
                        not_acting,
                        "call:answered_elsewhere",
                        data.clone(),
                    ),
                ],
                Some(CallAction::Reject) => {
                    vec![emit(both, not_acting, "call:rejected", data.clone())]
                }
                Some(CallAction::Timeout) => vec![emit(both, vec![], "call:missed", data.clone())],
                Some(CallAction::Cancel | CallAction::End | CallAction::Drop) => {
                    vec![emit(both, not_acting, "call:ended", data.clone())]
                }
                Some(CallAction::Connect) => {
                    vec![emit(both, not_acting, "call:ongoing", data.clone())]
                }
                Some(CallAction::Ring) => vec![],
            };
            // Peer-to-peer clients also hear Backend1's hang-up.
            if call.transport == Transport::Webrtc && !call.status.is_live() && action.is_some() {
                let to = rooms::users(&call.parties());
                let except = by_session.map(rooms::session).into_iter().collect();
                let mut hangup = data;
                hangup["reason"] = json!(call.end_reason.map(|r| r.as_str()));
                actions.push(emit(to, except, "call:hangup", hangup));
            }
            actions
        }
        DomainEvent::CallSignal { call, from, signal } => {
            let event = match signal.kind {
                SignalKind::Offer => "call:invite",
                SignalKind::Answer => "call:answer",
                SignalKind::Candidate => "call:candidate",
            };
            vec![emit(
                vec![rooms::user(call.other_party(*from))],
                vec![],
                event,
                signal_payload(call, *from, &signal.payload),
            )]
        }
        _ => vec![],
    }
}

/// The call with a party's join fields.
fn with_join(call: &Value, join: &JoinView) -> Value {
    let mut data = call.clone();
    let join = to_value(join);
    if let (Some(data), Some(join)) = (data.as_object_mut(), join.as_object()) {
        for (k, v) in join {
            data.insert(k.clone(), v.clone());
        }
    }
    data
}

/// A relayed signal: the client's fields, then the routing ones.
fn signal_payload(call: &Call, from: ParticipantId, payload: &Value) -> Value {
    let mut data = match payload {
        Value::Object(object) => Value::Object(object.clone()),
        other => json!({ "data": other }),
    };
    data["callId"] = json!(call.id.0);
    data["from"] = json!(from.0);
    data["fromId"] = json!(from.0);
    data["callType"] = json!(call.call_type.as_str());
    data["channelName"] = json!(call.channel_name);
    data
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        domain::{
            SessionId,
            call::{CallJoin, CallTokens, EndReason, Signal},
        },
        realtime::outbound::emits,
    };

    fn call(status: CallStatus, transport: Transport) -> Call {
        Call::sample(status, transport)
    }

    fn changed(call: &Call, action: Option<CallAction>, session: Option<SessionId>) -> DomainEvent {
        let join = |uid| CallJoin {
            channel_name: call.channel_name.clone(),
            uid,
            token: Some(format!("007token{uid}")),
            expires_at: None,
        };
        DomainEvent::CallChanged {
            call: Arc::new(call.clone()),
            action,
            by: None,
            by_session: session,
            tokens: action.is_none().then(|| {
                Arc::new(CallTokens {
                    caller: join(1),
                    callee: join(2),
                })
            }),
        }
    }

    #[test]
    fn a_new_call_rings_the_callee_with_its_own_token_and_tells_the_caller() {
        let c = call(CallStatus::Ringing, Transport::Agora);
        let actions = plan(&changed(&c, None, None), None);
        let sent = emits(&actions);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].names, Names::every("call:incoming"));
        assert_eq!(sent[0].to, vec![rooms::user(c.callee_id)]);
        assert_eq!(sent[0].data["agoraToken"], "007token2");
        assert_eq!(sent[0].data["uid"], 2);
        assert_eq!(sent[1].names, Names::every("call:initiated"));
        assert_eq!(sent[1].to, vec![rooms::user(c.caller_id)]);
        assert_eq!(sent[1].data["agoraToken"], "007token1");
    }

    #[test]
    fn accepting_stops_the_other_devices_of_the_callee() {
        let c = call(CallStatus::Answered, Transport::Agora);
        let session = SessionId::new();
        let actions = plan(&changed(&c, Some(CallAction::Accept), Some(session)), None);
        let sent = emits(&actions);
        assert_eq!(sent[0].names, Names::every("call:accepted"));
        assert_eq!(sent[0].to, vec![rooms::user(c.caller_id)]);
        assert_eq!(sent[1].names, Names::every("call:answered_elsewhere"));
        assert_eq!(sent[1].to, vec![rooms::user(c.callee_id)]);
        assert_eq!(sent[1].except, vec![rooms::session(session)]);
    }

    #[test]
    fn outcomes_reach_both_parties_and_p2p_clients_hear_hangup() {
        let mut c = call(CallStatus::Ended, Transport::Webrtc);
        c.end_reason = Some(EndReason::Completed);
        let actions = plan(&changed(&c, Some(CallAction::End), None), None);
        let names: Vec<_> = emits(&actions).iter().map(|e| e.names).collect();
        let expected = ["call:ended", "call:hangup"].map(Names::every);
        assert_eq!(names, expected);
        let missed = call(CallStatus::Missed, Transport::Agora);
        let actions = plan(&changed(&missed, Some(CallAction::Timeout), None), None);
        let sent = emits(&actions);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].names, Names::every("call:missed"));
        assert_eq!(sent[0].to.len(), 2);
    }

    #[test]
    fn signals_go_only_to_the_other_party() {
        let c = call(CallStatus::Ringing, Transport::Webrtc);
        let event = DomainEvent::CallSignal {
            call: Arc::new(c.clone()),
            from: c.caller_id,
            signal: Signal {
                kind: SignalKind::Offer,
                payload: json!({ "sdp": "v=0", "callId": "forged" }),
            },
        };
        let actions = plan(&event, None);
        let sent = emits(&actions);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].names, Names::every("call:invite"));
        assert_eq!(sent[0].to, vec![rooms::user(c.callee_id)]);
        assert_eq!(sent[0].data["sdp"], "v=0");
        assert_eq!(sent[0].data["callId"], json!(c.id.0));
    }
}
