//! The call state machine: the actions that move a call and where each
//! takes it from each status.

use super::{CallStatus, EndReason};

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAction {
    /// A device of the callee is ringing.
    Ring,
    /// The callee picked up.
    Accept,
    /// Media is flowing (a party says so).
    Connect,
    /// The callee declined.
    Reject,
    /// The caller gave up before an answer.
    Cancel,
    /// Either party hung up an answered call.
    End,
    /// Nobody answered before the ring deadline.
    Timeout,
    /// A party's last connection dropped and did not come back.
    Drop,
}

impl CallAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Accept => "accept",
            Self::Connect => "connect",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
            Self::End => "end",
            Self::Timeout => "timeout",
            Self::Drop => "drop",
        }
    }
}

/// The state machine: where `action` takes a call in `status`, with the end
/// reason when it ends it; `None` when the transition is illegal.
pub fn transition(
    status: CallStatus,
    action: CallAction,
) -> Option<(CallStatus, Option<EndReason>)> {
    use CallAction as A;
    use CallStatus as S;
    Some(match (status, action) {
        (S::Initiated, A::Ring) => (S::Ringing, None),
        (S::Initiated | S::Ringing, A::Accept) => (S::Answered, None),
        (S::Answered, A::Connect) => (S::Ongoing, None),
        (S::Initiated | S::Ringing, A::Reject) => (S::Rejected, Some(EndReason::Rejected)),
        (S::Initiated | S::Ringing, A::Cancel) => (S::Missed, Some(EndReason::Cancelled)),
        (S::Initiated | S::Ringing, A::Timeout) => (S::Missed, Some(EndReason::NoAnswer)),
        (S::Initiated | S::Ringing, A::Drop) => (S::Failed, Some(EndReason::NetworkError)),
        (S::Answered | S::Ongoing, A::End) => (S::Ended, Some(EndReason::Completed)),
        (S::Answered | S::Ongoing, A::Drop) => (S::Ended, Some(EndReason::NetworkError)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CallStatus; 9] = [
        CallStatus::Initiated,
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::Ongoing,
        CallStatus::Ended,
        CallStatus::Rejected,
        CallStatus::Missed,
        CallStatus::Failed,
        CallStatus::Busy,
    ];
    const ACTIONS: [CallAction; 8] = [
        CallAction::Ring,
        CallAction::Accept,
        CallAction::Connect,
        CallAction::Reject,
        CallAction::Cancel,
        CallAction::End,
        CallAction::Timeout,
        CallAction::Drop,
    ];

    #[test]
    fn final_states_have_no_way_out() {
        for status in ALL.into_iter().filter(|s| !s.is_live()) {
            for action in ACTIONS {
                assert_eq!(transition(status, action), None, "{status:?} {action:?}");
            }
        }
    }

    #[test]
    fn every_transition_lands_somewhere_sensible() {
        for status in ALL {
            for action in ACTIONS {
                let Some((to, reason)) = transition(status, action) else {
                    continue;
                };
                assert!(status.is_live());
                // A call ends exactly when it gets an end reason.
                assert_eq!(to.is_live(), reason.is_none(), "{status:?} {action:?}");
            }
        }
        assert_eq!(
            transition(CallStatus::Ringing, CallAction::Accept),
            Some((CallStatus::Answered, None))
        );
        assert_eq!(transition(CallStatus::Answered, CallAction::Accept), None);
        assert_eq!(transition(CallStatus::Ringing, CallAction::End), None);
        assert_eq!(
            transition(CallStatus::Ongoing, CallAction::Drop),
            Some((CallStatus::Ended, Some(EndReason::NetworkError)))
        );
    }
}
