//! The console's pages: dashboard, conversations (list, view, send,
//! close/reopen, live updates from the event bus) and call history (with CSV).

use std::collections::HashMap;

use askama::Template;
use futures_util::StreamExt;
use poem::{
    IntoResponse, Request, Response, handler,
    http::header,
    web::{
        Data, Form, Path, Redirect,
        sse::{Event, SSE},
    },
};
use serde::Deserialize;

use super::{
    Fail, Outcome, Viewer, check_csrf,
    common::{blank, day},
    finish, html, viewer,
};
use crate::{
    domain::{
        ConversationId, ParticipantId,
        call::{Call, CallFilter, CallStatus, CallType},
        conversation::{ContextType, ConversationChanges, ConversationType, Filter},
        dashboard::Dashboard,
        events::DomainEvent,
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
    pub media_url: Option<String>,
    pub reply_to: Option<String>,
    pub edited: bool,
    pub deleted: bool,
    pub at: String,
}

impl MessageRow {
    fn of(m: &Message, names: &HashMap<ParticipantId, (String, String)>) -> Self {
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
            reply_to: m.reply_to_id.map(|r| r.0.to_string()),
            edited: m.edited_at.is_some(),
            deleted: m.deleted_at.is_some(),
            at: m.created_at.format("%d %b %H:%M").to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    d: Dashboard,
    /// Bars of the messages chart: (label, count, height in px, x).
    bars: Vec<(String, u64, u64, u64)>,
}

#[handler]
pub async fn dashboard(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        if viewer.is_superadmin() {
            return Ok(Redirect::see_other("/console/tenants").into_response());
        }
        state
            .auth
            .authorize(&viewer.actor, "conversations", "read")
            .await?;
        let d = state.core.dashboard(&viewer.actor).await?;
        let top = d
            .messages_by_day
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
            .max(1);
        let bars = d
            .messages_by_day
            .iter()
            .enumerate()
            .map(|(i, (day, n))| {
                (
                    day.format("%a").to_string(),
                    *n,
                    n * 90 / top,
                    i as u64 * 40 + 10,
                )
            })
            .collect();
        html(&DashboardPage {
            viewer: &viewer,
            nav: "dashboard",
            d,
            bars,
        })
    }
    .await;
    finish(req, outcome)
}

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
struct MessagesFragment {
    messages: Vec<MessageRow>,
}

#[derive(Deserialize, Default)]
struct MessagesQuery {
    before: Option<u64>,
    after: Option<u64>,
}

fn conversation_id(raw: &str) -> Result<ConversationId, Fail> {
    raw.parse()
        .map(ConversationId)
        .map_err(|_| Fail::App(AppError::NotFound("conversation")))
}

async fn names_of(
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

/// Server-sent events for one conversation: each new, edited or deleted
/// message as the list item to put in place, read from the same event bus
/// the Socket.IO fan-out reads.
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
        let stream = tokio_stream::wrappers::BroadcastStream::new(state.core.events().subscribe())
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
            })
            .filter_map(move |message| {
                let (state, actor, names) = (state.clone(), actor.clone(), names.clone());
                async move {
                    let unknown = message.sender_id.is_some_and(|s| !names.contains_key(&s));
                    let mut current = (*names).clone();
                    if unknown
                        && let Ok(members) = state.core.conversation_members(&actor, id).await
                    {
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

/// A call in the history table and the CSV.
pub struct CallRow {
    pub id: String,
    pub caller: String,
    pub callee: String,
    pub kind: String,
    pub status: String,
    pub started: String,
    pub duration: String,
    pub end_reason: String,
}

#[derive(Deserialize, Default, Clone)]
pub struct CallQuery {
    #[serde(default)]
    participant: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cursor: String,
}

impl CallQuery {
    fn filter(&self) -> Result<CallFilter, Fail> {
        Ok(CallFilter {
            participant: blank(&self.participant)
                .map(|p| p.parse().map(ParticipantId))
                .transpose()
                .map_err(|_| AppError::validation("participant must be an id"))?,
            call_type: blank(&self.kind).map(CallType::parse).transpose()?,
            status: blank(&self.status).map(CallStatus::parse).transpose()?,
            from: day(&self.from, "from")?,
            // The whole "to" day is included.
            to: day(&self.to, "to")?.map(|d| d + chrono::Duration::days(1)),
            cursor: blank(&self.cursor).map(str::to_owned),
            limit: Some(50),
        })
    }

    /// The query string of this filter (for links), without the cursor.
    fn link(&self) -> String {
        let pairs = [
            ("participant", &self.participant),
            ("type", &self.kind),
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", super::urlencode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

async fn call_rows(state: &AppState, viewer: &Viewer, list: &[Call]) -> Result<Vec<CallRow>, Fail> {
    let ids: Vec<ParticipantId> = list.iter().flat_map(Call::parties).collect();
    let names: HashMap<ParticipantId, String> = state
        .core
        .participants_by_ids(&viewer.actor, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let name = |id: ParticipantId| names.get(&id).cloned().unwrap_or_else(|| id.0.to_string());
    Ok(list
        .iter()
        .map(|c| CallRow {
            id: c.id.0.to_string(),
            caller: format!("{} ({})", name(c.caller_id), c.caller_type.as_str()),
            callee: format!("{} ({})", name(c.callee_id), c.callee_type.as_str()),
            kind: c.call_type.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            started: c.initiated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            duration: c
                .duration_secs
                .map(|s| format!("{}:{:02}", s / 60, s % 60))
                .unwrap_or_default(),
            end_reason: c
                .end_reason
                .map(|r| r.as_str().replace('_', " "))
                .unwrap_or_default(),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "console/calls.html")]
struct CallsPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    query: &'a CallQuery,
    link: String,
    rows: Vec<CallRow>,
    next: Option<String>,
    total: usize,
    answered: usize,
    talk: String,
}

#[handler]
pub async fn calls(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        state.auth.authorize(&viewer.actor, "calls", "read").await?;
        let query: CallQuery = req.params().unwrap_or_default();
        let page = state
            .core
            .call_history(&viewer.actor, query.filter()?)
            .await?;
        let answered = page
            .items
            .iter()
            .filter(|c| c.answered_at.is_some())
            .count();
        let secs: u64 = page
            .items
            .iter()
            .filter_map(|c| c.duration_secs)
            .map(u64::from)
            .sum();
        let rows = call_rows(state, &viewer, &page.items).await?;
        html(&CallsPage {
            viewer: &viewer,
            nav: "calls",
            link: query.link(),
            query: &query,
            total: rows.len(),
            answered,
            talk: format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
            rows,
            next: page.next_cursor,
        })
    }
    .await;
    finish(req, outcome)
}

fn csv_field(text: &str) -> String {
    // Quote always; neutralise spreadsheet formulas.
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The whole filtered set as CSV (every page).
#[handler]
pub async fn calls_csv(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = viewer(state, req).await?;
        state.auth.authorize(&viewer.actor, "calls", "read").await?;
        let query: CallQuery = req.params().unwrap_or_default();
        let mut filter = query.filter()?;
        filter.limit = Some(100);
        let mut out =
            String::from("id,caller,callee,type,status,started_utc,duration,end_reason\n");
        for _ in 0..1000 {
            let page = state
                .core
                .call_history(&viewer.actor, filter.clone())
                .await?;
            for row in call_rows(state, &viewer, &page.items).await? {
                let fields = [
                    &row.id,
                    &row.caller,
                    &row.callee,
                    &row.kind,
                    &row.status,
                    &row.started,
                    &row.duration,
                    &row.end_reason,
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                out.push_str(&line.join(","));
                out.push('\n');
            }
            match page.next_cursor {
                Some(next) => filter.cursor = Some(next),
                None => break,
            }
        }
        Ok(Response::builder()
            .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"calls.csv\"",
            )
            .body(out))
    }
    .await;
    finish(req, outcome)
}
