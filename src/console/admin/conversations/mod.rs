//! The conversation pages: the list with its filters (here), one
//! conversation with sending and closing ([`view`]), and its live updates
//! over server-sent events ([`live`]).

mod live;
mod view;

use askama::Template;
use poem::{Request, Response, handler, web::Data};
use serde::Deserialize;

pub use live::events;
pub use view::{conversation, messages_after, send, set_active};

use super::{Viewer, common::blank, finish, html, viewer};
use crate::{
    domain::{
        ParticipantId,
        conversation::{ContextType, ConversationType, Filter},
    },
    error::AppError,
    state::AppState,
};

/// A conversation in the list.
pub struct ConversationRow {
    pub id: String,
    pub kind: String,
    pub context: String,
    pub title: String,
    pub preview: String,
    pub active: bool,
    pub activity: String,
    pub unread: u64,
}

#[derive(Deserialize, Default)]
pub struct ConversationQuery {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    participant: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    mine: String,
    #[serde(default)]
    cursor: String,
}

#[derive(Template)]
#[template(path = "console/conversations.html")]
struct ConversationsPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    query: &'a ConversationQuery,
    rows: Vec<ConversationRow>,
    next: Option<String>,
    people: Vec<(String, String, String)>,
}

#[handler]
pub async fn conversations(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "conversations", "read")
            .await?;
        let query: ConversationQuery = req.params().unwrap_or_default();
        let core = &state.core;
        // The search box finds participants by name; picking one filters.
        let people = match blank(&query.q) {
            Some(q) => {
                state
                    .auth
                    .authorize(&viewer.actor, "participants", "read")
                    .await?;
                let filter = crate::domain::participant::Filter {
                    q: Some(q.to_owned()),
                    ..Default::default()
                };
                core.participants(viewer.actor.tenant()?, &filter, None, 10)
                    .await?
                    .items
                    .into_iter()
                    .map(|p| (p.id.0.to_string(), p.name, p.kind.as_str().to_owned()))
                    .collect()
            }
            None => vec![],
        };
        let filter = Filter {
            kind: blank(&query.kind)
                .map(ConversationType::parse)
                .transpose()?,
            context_type: blank(&query.context).map(ContextType::parse).transpose()?,
            context_id: None,
            is_active: match query.state.as_str() {
                "active" => Some(true),
                "closed" => Some(false),
                _ => None,
            },
            with: blank(&query.participant)
                .map(|p| p.parse().map(ParticipantId))
                .transpose()
                .map_err(|_| AppError::validation("participant must be an id"))?,
            unread_only: query.mine == "unread",
        };
        let mine = !query.mine.is_empty();
        let page = core
            .conversations(&viewer.actor, &filter, !mine, blank(&query.cursor), 30)
            .await?;
        let rows = page
            .items
            .into_iter()
            .map(|v| {
                let c = &v.conversation;
                let title = c.title.clone().unwrap_or_else(|| {
                    v.members
                        .iter()
                        .filter(|m| m.member.is_current())
                        .map(|m| format!("{} ({})", m.name, m.kind.as_str()))
                        .collect::<Vec<_>>()
                        .join(" · ")
                });
                ConversationRow {
                    id: c.id.0.to_string(),
                    kind: c.kind.as_str().replace('_', " "),
                    context: c.context_type.as_str().replace('_', " "),
                    title,
                    preview: c.last_message_preview.clone().unwrap_or_default(),
                    active: c.is_active,
                    activity: c.activity_at.format("%d %b %H:%M").to_string(),
                    unread: v.unread,
                }
            })
            .collect();
        html(&ConversationsPage {
            viewer: &viewer,
            nav: "conversations",
            query: &query,
            rows,
            next: page.next_cursor,
            people,
        })
    }
    .await;
    finish(req, outcome)
}
