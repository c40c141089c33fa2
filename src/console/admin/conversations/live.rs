//! Live updates of one conversation: server-sent events read from the same
//! event bus the Socket.IO fan-out reads. With several nodes, that bus
//! carries only what this node did; the log (in MySQL) carries what every
//! node did, so the stream also reads the conversation's changes from it
//! each [`FOLLOW_LOG`]. (The page replaces a message it already shows, so
//! one change arriving both ways is shown once.)

use askama::Template;
use futures_util::StreamExt;
use poem::{
    IntoResponse, Request, Response, handler,
    web::{
        Data, Path,
        sse::{Event, SSE},
    },
};

use super::view::{MessageRow, MessagesFragment, conversation_id, names_of};
use crate::{
    console::admin::{finish, viewer},
    domain::{ConversationId, TenantId, events::DomainEvent, message::Message},
    state::AppState,
};

/// How often a node that is one of several reads the log for a watched
/// conversation's changes made on the other nodes.
const FOLLOW_LOG: std::time::Duration = std::time::Duration::from_secs(1);

/// Server-sent events for one conversation: each new, edited or deleted
/// message as the list item to put in place, read from the same event bus
/// the Socket.IO fan-out reads (and, with several nodes, from the log).
#[handler]
pub async fn events(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "conversations", "read")
            .await?;
        let id = conversation_id(&id)?;
        // Access check (404 for another tenant's conversation) and names.
        state.core.conversation(&viewer.actor, id).await?;
        let names = names_of(state, &viewer, id).await?;
        let tenant = viewer.actor.tenant()?;
        let (state, viewer) = (state.clone(), viewer);
        let names = std::sync::Arc::new(names);
        let actor = viewer.actor;
        let state = state.clone();
        // Only this conversation's messages get past the first step; the
        // rendering (and a names refresh for a new member) runs for those.
        let local = tokio_stream::wrappers::BroadcastStream::new(state.core.events().subscribe())
            .filter_map(move |event| {
                let wanted = match event.as_deref() {
                    Ok(
                        DomainEvent::MessageCreated { message, .. }
                        | DomainEvent::MessageEdited { message, .. }
                        | DomainEvent::MessageDeleted {
                            message,
                            for_everyone: true,
                            ..
                        },
                    ) if message.tenant_id == tenant && message.conversation_id == id => {
                        Some(message.clone())
                    }
                    _ => None,
                };
                futures_util::future::ready(wanted)
            });
        let everywhere = if state.core.is_clustered() {
            // Subscribed first: what commits after the head read here comes
            // from the log, what came before from the page's catch-up.
            let from = state.core.log_head().await?;
            follow_log(state.clone(), tenant, id, from).boxed()
        } else {
            futures_util::stream::empty().boxed()
        };
        let stream = futures_util::stream::select(local, everywhere).filter_map(move |message| {
            let (state, actor, names) = (state.clone(), actor.clone(), names.clone());
            async move {
                let unknown = message.sender_id.is_some_and(|s| !names.contains_key(&s));
                let mut current = (*names).clone();
                if unknown && let Ok(members) = state.core.conversation_members(&actor, id).await {
                    current.extend(members.into_iter().map(|m| {
                        (
                            m.member.participant_id,
                            (m.name, m.kind.as_str().to_owned()),
                        )
                    }));
                }
                let row = MessageRow::of(&message, &current);
                let fragment = MessagesFragment {
                    messages: vec![row],
                }
                .render()
                .ok()?;
                Some(Event::message(fragment.replace('\n', " ")).event_type("message"))
            }
        });
        Ok(SSE::new(stream)
            .keep_alive(std::time::Duration::from_secs(15))
            .into_response())
    }
    .await;
    finish(req, outcome)
}

/// The conversation's messages changed on any node, read from the log each
/// [`FOLLOW_LOG`] after position `from`. A failed read is tried again at
/// the next tick from the same position: nothing is skipped.
fn follow_log(
    state: AppState,
    tenant: TenantId,
    id: ConversationId,
    from: u64,
) -> impl futures_util::Stream<Item = std::sync::Arc<Message>> {
    futures_util::stream::unfold(from, move |position| {
        let state = state.clone();
        async move {
            tokio::time::sleep(FOLLOW_LOG).await;
            let (changed, next) = state
                .core
                .message_changes(tenant, id, position)
                .await
                .unwrap_or_else(|err| {
                    tracing::debug!(error = %err, "the live view could not read the log");
                    (Vec::new(), position)
                });
            let changed = changed.into_iter().map(std::sync::Arc::new);
            Some((futures_util::stream::iter(changed), next))
        }
    })
    .flatten()
}
