//! Room names, and the dialects a socket may ask to hear.
//!
//! Every socket is in `user:{participant}`, `session:{session}`,
//! `tenant:{tenant}`, `dialect:{dialect}` and `conversation:{id}` for each
//! conversation it belongs to. Ids are UUIDv7, unique across tenants, so a
//! room never mixes tenants.

use crate::domain::{ConversationId, ParticipantId, SessionId, TenantId};

pub fn user(id: ParticipantId) -> String {
    format!("user:{}", id.0)
}

pub fn users(ids: &[ParticipantId]) -> Vec<String> {
    ids.iter().copied().map(user).collect()
}

pub fn conversation(id: ConversationId) -> String {
    format!("conversation:{}", id.0)
}

pub fn session(id: SessionId) -> String {
    format!("session:{}", id.0)
}

pub fn tenant(id: TenantId) -> String {
    format!("tenant:{}", id.0)
}

/// Which event names a socket hears where the seeds' clients differ: seed
/// 004's `dm:*` names, the Electron backend's (`receive-message`, `typing`,
/// `read_up_to`) or the Flutter backend's (`message`, `typing`,
/// `read_up_to`). A socket that does not choose hears all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    All,
    Dm,
    Backend,
    Backend1,
}

impl Dialect {
    /// Reads the handshake's `dialect` (absent: all).
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::trim) {
            None | Some("" | "all") => Ok(Self::All),
            Some("dm") => Ok(Self::Dm),
            Some("backend") => Ok(Self::Backend),
            Some("backend1") => Ok(Self::Backend1),
            Some(other) => Err(format!(
                "dialect must be all, dm, backend or backend1, not `{other}`"
            )),
        }
    }

    pub fn room(self) -> &'static str {
        match self {
            Self::All => "dialect:all",
            Self::Dm => "dialect:dm",
            Self::Backend => "dialect:backend",
            Self::Backend1 => "dialect:backend1",
        }
    }

    /// The rooms to leave out so that only sockets hearing `self` (or all
    /// dialects) get an event.
    pub fn others(self) -> Vec<String> {
        [Self::Dm, Self::Backend, Self::Backend1]
            .into_iter()
            .filter(|d| *d != self)
            .map(|d| d.room().to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_parse_and_exclude_the_others() {
        assert_eq!(Dialect::parse(None), Ok(Dialect::All));
        assert_eq!(Dialect::parse(Some("backend1")), Ok(Dialect::Backend1));
        assert!(Dialect::parse(Some("klingon")).is_err());
        assert_eq!(
            Dialect::Dm.others(),
            ["dialect:backend", "dialect:backend1"]
        );
        assert!(
            !Dialect::Backend
                .others()
                .contains(&"dialect:all".to_owned())
        );
    }
}
