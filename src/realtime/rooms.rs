//! Room names, the dialects a socket may ask to hear, and an emit's event
//! names in each dialect.
//!
//! Every socket is in `user:{participant}`, `session:{session}`,
//! `tenant:{tenant}` and `conversation:{id}` for each conversation it
//! belongs to; its dialect is kept with the socket, not as a room. Ids are UUIDv7, unique across tenants, so a
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
}

/// The event names one emit goes out under, by the socket's dialect: the
/// seed 004 name (`dm`), the Electron backend's and the Flutter backend's;
/// `None` where that dialect does not hear the emit. A socket that hears
/// every dialect gets each distinct name once, in that order. One emit
/// (one payload, serialized once, crossing to other nodes once) thus
/// serves every dialect, where it used to be an emit per dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Names<'a>(pub [Option<&'a str>; 3]);

impl<'a> Names<'a> {
    /// Every socket hears `name`.
    pub const fn every(name: &'a str) -> Self {
        Self([Some(name); 3])
    }

    /// Each dialect's own name.
    pub const fn each(dm: &'a str, backend: &'a str, backend1: &'a str) -> Self {
        Self([Some(dm), Some(backend), Some(backend1)])
    }

    /// Only sockets hearing seed 004's names (or all) get `name`.
    pub const fn dm(name: &'a str) -> Self {
        Self([Some(name), None, None])
    }

    /// Only sockets hearing the backends' names (or all) get `name`.
    pub const fn backends(name: &'a str) -> Self {
        Self([None, Some(name), Some(name)])
    }

    /// Whether every dialect hears the same one name (then the socket's
    /// dialect need not be looked up).
    pub fn is_every(&self) -> bool {
        let [dm, backend, backend1] = self.0;
        dm.is_some() && dm == backend && dm == backend1
    }

    /// The names a socket hearing `dialect` gets, in order.
    pub fn heard_by(&self, dialect: Dialect) -> impl Iterator<Item = &'a str> + use<'a> {
        let [dm, backend, backend1] = self.0;
        let names = match dialect {
            Dialect::Dm => [dm, None, None],
            Dialect::Backend => [backend, None, None],
            Dialect::Backend1 => [backend1, None, None],
            Dialect::All => [
                dm,
                backend.filter(|b| Some(*b) != dm),
                backend1.filter(|b| Some(*b) != dm && Some(*b) != backend),
            ],
        };
        names.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_parse() {
        assert_eq!(Dialect::parse(None), Ok(Dialect::All));
        assert_eq!(Dialect::parse(Some("backend1")), Ok(Dialect::Backend1));
        assert!(Dialect::parse(Some("klingon")).is_err());
    }

    #[test]
    fn each_dialect_hears_its_own_name_and_all_hear_each_distinct_name_once() {
        let heard = |names: Names<'static>, dialect| names.heard_by(dialect).collect::<Vec<_>>();
        let message = Names::each("dm:message_received", "receive-message", "message");
        assert_eq!(heard(message, Dialect::Dm), ["dm:message_received"]);
        assert_eq!(heard(message, Dialect::Backend1), ["message"]);
        assert_eq!(
            heard(message, Dialect::All),
            ["dm:message_received", "receive-message", "message"]
        );
        let typing = Names::each("dm:typing_start", "typing", "typing");
        assert_eq!(heard(typing, Dialect::All), ["dm:typing_start", "typing"]);
        assert_eq!(heard(typing, Dialect::Backend), ["typing"]);
        assert_eq!(
            heard(Names::every("delivered"), Dialect::All),
            ["delivered"]
        );
        assert!(heard(Names::dm("dm:messages_read"), Dialect::Backend).is_empty());
        assert_eq!(
            heard(Names::backends("read_up_to"), Dialect::All),
            ["read_up_to"]
        );
        assert!(Names::every("x").is_every());
        assert!(!typing.is_every() && !Names::dm("x").is_every());
    }
}
