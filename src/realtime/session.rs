//! A socket's life: authentication at connect, the rooms it joins, presence,
//! the catch-up of undelivered messages, and the end.

use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::{SocketRef, State, TryData};

use super::{
    inbound,
    rooms::{self, Dialect},
};
use crate::{
    api::messaging::MessageRenderer,
    app::AppState,
    domain::{Actor, Credential, SessionId},
    error::AppError,
};

/// How many conversations, and messages in each, a connect catches up on;
/// the rest is fetched with `sync` or `GET .../messages?after=`.
const CATCH_UP_CONVERSATIONS: u32 = 100;
const CATCH_UP_MESSAGES: u32 = 100;

/// What a connected socket is, stored in its extensions.
#[derive(Debug, Clone)]
pub struct Conn {
    pub actor: Actor,
    pub session: SessionId,
    pub dialect: Dialect,
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
    let Credential::Session(session) = actor.credential else {
        return Err(AppError::unauthorized("unauthorized", "API keys cannot open sockets").into());
    };
    actor.participant()?;
    state
        .auth
        .authorize(&actor, "conversations", "read")
        .await?;
    s.extensions.insert(Conn {
        actor,
        session,
        dialect,
    });
    Ok(())
}

/// The client address as the proxy reports it (the TCP peer is not
/// available past the upgrade).
fn client_ip(s: &SocketRef, trust_proxy: bool) -> Option<String> {
    if !trust_proxy {
        return None;
    }
    let forwarded = s
        .req_parts()
        .headers
        .get("x-forwarded-for")?
        .to_str()
        .ok()?;
    let last = forwarded.rsplit(',').next()?.trim();
    last.parse::<std::net::IpAddr>()
        .ok()
        .map(|_| last.to_owned())
}

/// A socket connected: rooms, handlers, presence, catch-up.
pub async fn on_connect(s: SocketRef, State(state): State<AppState>) {
    let Some(conn) = s.extensions.get::<Conn>() else {
        let _ = s.disconnect();
        return;
    };
    let Ok((tenant, me)) = conn.actor.participant() else {
        let _ = s.disconnect();
        return;
    };
    s.join([
        rooms::user(me),
        rooms::session(conn.session),
        rooms::tenant(tenant),
        conn.dialect.room().to_owned(),
    ]);
    inbound::register(&s);
    s.on_disconnect(async |s: SocketRef, State(state): State<AppState>| {
        if let Some(conn) = s.extensions.get::<Conn>() {
            state.core.connection_closed(&conn.actor);
        }
    });
    // A revocation that landed while this socket joined its session's room
    // found nothing to disconnect: look again now that it is in.
    if !state
        .auth
        .session_is_live(conn.session)
        .await
        .unwrap_or(false)
    {
        let _ = s.disconnect();
        return;
    }
    match state.core.my_conversation_ids(&conn.actor).await {
        Ok(ids) => s.join(ids.into_iter().map(rooms::conversation).collect::<Vec<_>>()),
        Err(err) => tracing::warn!(error = %err, "joining conversation rooms failed"),
    }
    if let Err(err) = state.core.connection_opened(&conn.actor).await {
        tracing::warn!(error = %err, "recording presence failed");
    }
    catch_up(s, state, conn.actor).await;
}

/// Sends the device what it has not had delivered (`catchupDelivered`,
/// always, possibly empty); when the client acknowledges it, the delivered
/// cursors move past what was sent.
async fn catch_up(s: SocketRef, state: AppState, actor: Actor) {
    let found = match state
        .core
        .undelivered(&actor, CATCH_UP_CONVERSATIONS, CATCH_UP_MESSAGES)
        .await
    {
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
                "messages": super::to_values(MessageRenderer::set(c.set, me)),
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
