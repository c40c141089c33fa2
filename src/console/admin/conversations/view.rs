//! One conversation: its messages (with paging back), sending a message,
//! closing and reopening, and the message list fragment the live view and
//! its fallback poll use. A media message's files are drawn by [`files`].

mod files;

use std::collections::HashMap;

use askama::Template;
use poem::{
    IntoResponse, Request, Response, handler,
    web::{Data, Form, Path, Redirect},
};
use serde::Deserialize;

use self::files::{FileRow, Shown};
use crate::{
    console::admin::{Fail, Outcome, Viewer, check_csrf, finish, html, viewer},
    domain::{
        ConversationId, ParticipantId,
        conversation::ConversationChanges,
        message::{Message, MessageType, Paging, SendInput},
    },
    error::AppError,
    state::AppState,
};

/// A message as the console shows it.
pub struct MessageRow {
    pub id: String,
    pub seq: u64,
    pub sender: String,
    /// user, astrologer, admin, or samvad (system and call entries).
    pub badge: String,
    pub kind: String,
    pub content: String,
    /// A link to media hosted elsewhere (old clients), shown when the
    /// message carries no files.
    pub media_url: Option<String>,
    /// The files it carries, with their signed links.
    pub files: Vec<FileRow>,
    /// A media message whose files are gone (deleted by an admin).
    pub files_gone: bool,
    pub reply_to: Option<String>,
    pub edited: bool,
    pub deleted: bool,
    pub at: String,
}

impl MessageRow {
    pub(super) fn of(m: &Message, names: &HashMap<ParticipantId, (String, String)>) -> Self {
        let (sender, badge) = match (m.kind, m.sender_id) {
            (MessageType::System | MessageType::Call, _) | (_, None) => {
                ("Samvad".to_owned(), "samvad".to_owned())
            }
            (_, Some(id)) => names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| ("Former member".to_owned(), "member".to_owned())),
        };
        Self {
            id: m.id.0.to_string(),
            seq: m.seq,
            sender,
            badge,
            kind: m.kind.as_str().to_owned(),
            content: m.content.clone().unwrap_or_default(),
            media_url: m.media_url.clone(),
            files: m.attachments.iter().map(FileRow::of).collect(),
            files_gone: m.kind.has_media() && m.attachments.is_empty() && m.media_url.is_none(),
            reply_to: m.reply_to_id.map(|r| r.0.to_string()),
            edited: m.edited_at.is_some(),
            deleted: m.deleted_at.is_some(),
            at: m.created_at.format("%d %b %H:%M").to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/conversation.html")]
struct ConversationPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    id: String,
    title: String,
    kind: String,
    context: String,
    active: bool,
    member: bool,
    members: Vec<(String, String)>,
    messages: Vec<MessageRow>,
    last_seq: u64,
    older: Option<u64>,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "console/messages.html")]
pub(super) struct MessagesFragment {
    pub(super) messages: Vec<MessageRow>,
}

#[derive(Deserialize, Default)]
struct MessagesQuery {
    before: Option<u64>,
    after: Option<u64>,
}

pub(super) fn conversation_id(raw: &str) -> Result<ConversationId, Fail> {
    raw.parse()
        .map(ConversationId)
        .map_err(|_| Fail::App(AppError::NotFound("conversation")))
}

pub(super) async fn names_of(
    state: &AppState,
    viewer: &Viewer,
    id: ConversationId,
) -> Result<HashMap<ParticipantId, (String, String)>, Fail> {
    Ok(state
        .core
        .conversation_members(&viewer.actor, id)
        .await?
        .into_iter()
        .map(|m| {
            (
                m.member.participant_id,
                (m.name, m.kind.as_str().to_owned()),
            )
        })
        .collect())
}

async fn render_conversation(
    state: &AppState,
    viewer: &Viewer,
    raw: &str,
    before: Option<u64>,
    problem: Option<String>,
) -> Outcome {
    let id = conversation_id(raw)?;
    let view = state.core.conversation(&viewer.actor, id).await?;
    let names = names_of(state, viewer, id).await?;
    let page = state
        .core
        .messages(
            &viewer.actor,
            id,
            Paging {
                before,
                after: None,
                limit: 50,
            },
        )
        .await?;
    let mut messages: Vec<MessageRow> = page
        .set
        .messages
        .iter()
        .map(|m| MessageRow::of(m, &names))
        .collect();
    messages.sort_by_key(|m| m.seq);
    let c = &view.conversation;
    let members: Vec<(String, String)> = view
        .members
        .iter()
        .filter(|m| m.member.is_current())
        .map(|m| (m.name.clone(), m.kind.as_str().to_owned()))
        .collect();
    html(&ConversationPage {
        viewer,
        nav: "conversations",
        id: c.id.0.to_string(),
        title: c.title.clone().unwrap_or_else(|| {
            members
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" · ")
        }),
        kind: c.kind.as_str().replace('_', " "),
        context: c.context_type.as_str().replace('_', " "),
        active: c.is_active,
        member: view.me.is_some(),
        members,
        last_seq: c.last_seq,
        older: page.more.then(|| messages.first().map(|m| m.seq)).flatten(),
        messages,
        problem,
    })
}

#[handler]
pub async fn conversation(
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
        let query: MessagesQuery = req.params().unwrap_or_default();
        render_conversation(state, &viewer, &id, query.before, None).await
    }
    .await;
    finish(req, outcome)
}

/// Messages after a seq, as list items (the live view's fallback poll).
#[handler]
pub async fn messages_after(
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
        let query: MessagesQuery = req.params().unwrap_or_default();
        let names = names_of(state, &viewer, id).await?;
        let page = state
            .core
            .messages(
                &viewer.actor,
                id,
                Paging {
                    before: None,
                    after: Some(query.after.unwrap_or(0)),
                    limit: 100,
                },
            )
            .await?;
        let mut messages: Vec<MessageRow> = page
            .set
            .messages
            .iter()
            .map(|m| MessageRow::of(m, &names))
            .collect();
        messages.sort_by_key(|m| m.seq);
        html(&MessagesFragment { messages })
    }
    .await;
    finish(req, outcome)
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    content: String,
}

#[handler]
pub async fn send(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<SendForm>,
) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        check_csrf(req, &viewer, form.csrf.as_deref())?;
        state
            .auth
            .authorize(&viewer.actor, "conversations", "write")
            .await?;
        let cid = conversation_id(&id)?;
        let input = SendInput {
            kind_given: true,
            files: Vec::new(),
            kind: MessageType::Text,
            content: Some(form.content),
            media_url: None,
            metadata: None,
            reply_to: None,
            client_msg_id: None,
        };
        match state.core.send_message(&viewer.actor, cid, input).await {
            Ok(_) => Ok(
                Redirect::see_other(format!("/console/conversations/{id}#compose")).into_response(),
            ),
            Err(
                err @ (AppError::Validation { .. }
                | AppError::Forbidden { .. }
                | AppError::Conflict { .. }
                | AppError::TooManyRequests { .. }),
            ) => {
                let page =
                    render_conversation(state, &viewer, &id, None, Some(err.to_string())).await?;
                Ok(page
                    .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
                    .into_response())
            }
            Err(err) => Err(err.into()),
        }
    }
    .await;
    finish(req, outcome)
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    active: String,
}

#[handler]
pub async fn set_active(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<ActiveForm>,
) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        check_csrf(req, &viewer, form.csrf.as_deref())?;
        state
            .auth
            .authorize(&viewer.actor, "conversations", "write")
            .await?;
        let cid = conversation_id(&id)?;
        let changes = ConversationChanges {
            is_active: Some(form.active == "true"),
            ..Default::default()
        };
        state
            .core
            .update_conversation(&viewer.actor, cid, changes)
            .await?;
        Ok(Redirect::see_other(format!("/console/conversations/{id}")).into_response())
    }
    .await;
    finish(req, outcome)
}
