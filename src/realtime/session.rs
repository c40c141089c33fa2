//! A socket's life: authentication at connect, the rooms it joins, presence,
//! the catch-up of undelivered messages, and the end.

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::{State, TryData};

use super::SocketRef;

use super::{
    inbound,
    rooms::{self, Dialect},
};
use crate::{
    domain::{Actor, ConversationId, Credential, SessionId, conversation::Behind},
    error::AppError,
    state::AppState,
    wire::{message::MessageRenderer, to_values},
};

/// How many conversations, and messages in each, a connect catches up on;
/// the rest is fetched with `sync` or `GET .../messages?after=`.
const CATCH_UP_CONVERSATIONS: u32 = 100;
const CATCH_UP_MESSAGES: u32 = 100;

/// What a connected socket is, stored in its extensions (beside its
/// [`Dialect`], stored alone: the fan-out reads it for every emit).
#[derive(Debug, Clone)]
pub struct Conn {
    pub actor: Actor,
    pub session: SessionId,
    presence: Arc<Counted>,
}

/// What [`authenticate`] read for [`on_connect`], which takes it: the
/// conversations whose rooms the socket joined, and those of them behind.
#[derive(Debug, Clone)]
struct Joined {
    conversations: Arc<[ConversationId]>,
    behind: Vec<Behind>,
}

/// Whether a socket was counted in presence, so that it is counted out
/// exactly once, whether it closes before or after the connect handler
/// (spawned by socketioxide) counted it in.
#[derive(Debug, Default)]
struct Counted(Mutex<Count>);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Count {
    #[default]
    Pending,
    In,
    Closed,
}

impl Counted {
    /// Just counted in: `false` when the socket closed meanwhile, and the
    /// count must be taken back.
    fn opened(&self) -> bool {
        let mut count = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if *count == Count::Closed {
            return false;
        }
        *count = Count::In;
        true
    }

    /// The socket closed: `true` when it had been counted in.
    fn closed(&self) -> bool {
        let mut count = self.0.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *count, Count::Closed) == Count::In
    }
}

/// The handshake's `auth` object.
#[derive(Debug, Default, Deserialize)]
pub struct Handshake {
    token: Option<String>,
    dialect: Option<String>,
}

/// Why a connection was refused; the client's `connect_error` carries it as
/// `message` (`<code>: <explanation>`).
#[derive(Debug)]
pub struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<AppError> for Refused {
    fn from(err: AppError) -> Self {
        Self(format!("{}: {}", err.code(), err))
    }
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Connect middleware: the access token from `auth.token` or `?token=`.
/// API keys and the superadmin are refused: sockets are for participants.
pub async fn authenticate(
    s: SocketRef,
    TryData(auth): TryData<Handshake>,
    State(state): State<AppState>,
) -> Result<(), Refused> {
    let auth = auth.unwrap_or_default();
    let query = s.req_parts().uri.query();
    let token = auth
        .token
        .or_else(|| query_param(query, "token").map(|t| t.replace("%20", " ")))
        .map(|t| t.trim().trim_start_matches("Bearer ").trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::unauthorized(
                "unauthorized",
                "send the access token as auth.token (or ?token=)",
            )
        })?;
    let dialect = Dialect::parse(auth.dialect.as_deref().or(query_param(query, "dialect")))
        .map_err(AppError::validation)?;
    let ip = client_ip(&s, state.auth.trust_proxy());
    let actor = state.auth.authenticate(&token, ip).await?;
    let origin = crate::auth::guard::origin(&s.req_parts().headers);
    state.auth.admit_origin(&actor, origin).await?;
    let Credential::Session(session) = actor.credential else {
        return Err(AppError::unauthorized("unauthorized", "API keys cannot open sockets").into());
    };
    actor.participant()?;
    state
        .auth
        .authorize(&actor, "conversations", "read")
        .await?;
    let (tenant, me) = actor.participant()?;
    // socketioxide sends CONNECT when this middleware returns and runs the
    // connect handler later, in a task of its own; clients send what they
    // buffered as soon as they see CONNECT. So everything a client may rely
    // on once connected is set up here: its handlers and its rooms.
    s.join([
        rooms::user(me),
        rooms::session(session),
        rooms::tenant(tenant),
    ]);
    // One read gives the conversations' rooms (typing) and which of them
    // the catch-up must send. Messages go to the user's room, joined above,
    // so one committed after this read reaches the socket live.
    match state.core.memberships(&actor).await {
        Ok(memberships) => {
            let conversations: Arc<[ConversationId]> = memberships
                .iter()
                .map(|m| m.member.conversation_id)
                .collect();
            s.join(
                conversations
                    .iter()
                    .copied()
                    .map(rooms::conversation)
                    .collect::<Vec<_>>(),
            );
            let behind = Behind::first_behind(memberships, CATCH_UP_CONVERSATIONS);
            s.extensions.insert(Joined {
                conversations,
                behind,
            });
        }
        Err(err) => tracing::warn!(error = %err, "joining conversation rooms failed"),
    }
    s.extensions.insert(dialect);
    s.extensions.insert(Conn {
        actor,
        session,
        presence: Arc::default(),
    });
    inbound::register(&s);
    s.on_disconnect(async |s: SocketRef, State(state): State<AppState>| {
        if let Some(conn) = s.extensions.get::<Conn>()
            && conn.presence.closed()
        {
            state.core.connection_closed(&conn.actor);
        }
    });
    Ok(())
}

/// The client address as the proxy reports it (the TCP peer is not
/// available past the upgrade).
fn client_ip(s: &SocketRef, trust_proxy: bool) -> Option<String> {
    trust_proxy
        .then(|| crate::auth::guard::forwarded_for(&s.req_parts().headers))
        .flatten()
}

/// A socket connected (handlers and rooms are in place already, see
/// [`authenticate`]): presence, catch-up.
pub async fn on_connect(s: SocketRef, State(state): State<AppState>) {
    let Some(conn) = s.extensions.get::<Conn>() else {
        let _ = s.disconnect();
        return;
    };
    // A revocation that landed while this socket was being set up found
    // nothing to disconnect: look again now that it is in its rooms.
    if !state
        .auth
        .session_is_live(conn.session)
        .await
        .unwrap_or(false)
    {
        let _ = s.disconnect();
        return;
    }
    let joined = s.extensions.remove::<Joined>();
    let conversations = joined.as_ref().map(|j| j.conversations.clone());
    if let Err(err) = state
        .core
        .connection_opened_in(&conn.actor, conversations)
        .await
    {
        tracing::warn!(error = %err, "recording presence failed");
    }
    if !conn.presence.opened() {
        // Closed while being counted in: count it out again.
        state.core.connection_closed(&conn.actor);
        return;
    }
    tracing::debug!(socket = %s.id, dialect = ?s.extensions.get::<Dialect>(), "socket connected");
    catch_up(s, state, conn.actor, joined.map(|j| j.behind)).await;
}

/// Sends the device what it has not had delivered (`catchupDelivered`,
/// always, possibly empty); when the client acknowledges it, the delivered
/// cursors move past what was sent. `behind` is what the connect read
/// (else it is read now).
async fn catch_up(s: SocketRef, state: AppState, actor: Actor, behind: Option<Vec<Behind>>) {
    let found = match behind {
        Some(behind) => state.core.catch_up(&actor, behind, CATCH_UP_MESSAGES).await,
        None => {
            state
                .core
                .undelivered(&actor, CATCH_UP_CONVERSATIONS, CATCH_UP_MESSAGES)
                .await
        }
    };
    let found = match found {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(error = %err, "catch-up failed");
            return;
        }
    };
    let me = actor.participant().ok().map(|(_, me)| me);
    let mut delivered = Vec::new();
    let conversations: Vec<Value> = found
        .into_iter()
        .map(|c| {
            if let Some(last) = c.set.messages.last() {
                delivered.push((c.conversation, last.seq));
            }
            json!({
                "conversationId": c.conversation.0,
                "lastSeq": c.last_seq,
                "hasMore": c.more,
                "messages": to_values(MessageRenderer::set(c.set, me)),
            })
        })
        .collect();
    let payload = json!({ "conversations": conversations });
    let Ok(ack) = s.emit_with_ack::<_, Value>("catchupDelivered", &payload) else {
        return;
    };
    if ack.await.is_err() {
        return; // no ack (an old client, or gone): the cursors stay
    }
    for (conversation, seq) in delivered {
        if let Err(err) = state.core.mark(&actor, conversation, seq, 0).await {
            tracing::debug!(error = %err, "moving a delivered cursor after catch-up failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_is_counted_out_once_whichever_end_comes_first() {
        // Connected, then closed: counted out on close.
        let counted = Counted::default();
        assert!(counted.opened());
        assert!(counted.closed());
        assert!(!counted.closed(), "only once");

        // Closed before the connect handler counted it in: nothing to count
        // out on close, and the handler takes its count back.
        let counted = Counted::default();
        assert!(!counted.closed());
        assert!(!counted.opened());
    }

    #[test]
    fn the_query_token_is_read_by_name() {
        let query = Some("EIO=4&transport=polling&token=abc&dialect=dm");
        assert_eq!(query_param(query, "token"), Some("abc"));
        assert_eq!(query_param(query, "dialect"), Some("dm"));
        assert_eq!(query_param(query, "sid"), None);
        assert_eq!(query_param(None, "token"), None);
    }
}
