//! Notifications: announcements to the tenant's users, its astrologers or
//! one participant (the broadcast form and the newest broadcasts; same
//! check, `participants` write, and core call as
//! `POST /api/notifications/broadcast`), and the log of push deliveries
//! (the newest 100, by state; `settings` read, as `/api/push/deliveries`).
//! The page needs one of the two checks; each part shows only to those who
//! pass its own.

use std::collections::HashMap;

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form},
};
use serde::Deserialize;

use super::{
    Fail, Outcome, Viewer,
    common::{blank, invalid, notice, problem, see_other, tenant_viewer, when, writer},
    finish, html,
};
use crate::{
    domain::{
        ParticipantId,
        notification::broadcast::Audience,
        push::{Delivery, DeliveryState},
    },
    error::AppError,
    state::AppState,
};

/// How many deliveries the log shows.
const LOG_SIZE: u32 = 100;
/// How many broadcasts the page lists.
const BROADCASTS: u32 = 20;
const STATES: [&str; 5] = ["pending", "sending", "sent", "failed", "dropped"];
const NOTICES: [(&str, &str); 1] = [(
    "sent",
    "Broadcast sent: each recipient's inbox entry and push follow within seconds.",
)];

#[derive(Deserialize, Default)]
pub struct PageQuery {
    /// The log's state filter (empty: all).
    #[serde(default)]
    state: String,
    #[serde(default)]
    done: String,
}

#[derive(Deserialize, Default)]
pub struct BroadcastForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    audience: String,
    /// The one participant's id (audience `participant`).
    #[serde(default)]
    participant: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

/// A broadcast as the list shows it.
pub struct BroadcastRow {
    pub at: String,
    pub audience: String,
    /// The one participant's page (audience `participant`).
    pub link: Option<String>,
    pub title: String,
    pub body: String,
}

/// A delivery as the log shows it.
pub struct DeliveryRow {
    pub at: String,
    pub participant: String,
    pub participant_link: String,
    pub provider: &'static str,
    pub kind: String,
    pub state: &'static str,
    pub failed: bool,
    pub attempts: u16,
    pub status: String,
    pub error: String,
    pub latency: String,
}

#[derive(Template)]
#[template(path = "console/notifications.html")]
struct NotificationsPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    /// `None` when the viewer may not broadcast (no form either).
    broadcasts: Option<Vec<BroadcastRow>>,
    form: &'a BroadcastForm,
    /// `None` when the viewer may not read the delivery log.
    log: Option<Vec<DeliveryRow>>,
    state: &'a str,
    states: &'a [&'a str],
    problem: Option<String>,
    notice: Option<&'static str>,
}

/// Whether the viewer passes `object action`.
async fn allowed(
    state: &AppState,
    viewer: &Viewer,
    object: &str,
    action: &str,
) -> Result<bool, Fail> {
    match state.auth.authorize(&viewer.actor, object, action).await {
        Ok(()) => Ok(true),
        Err(AppError::Forbidden { .. }) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// The log's state filter.
fn state_filter(raw: &str) -> Result<Option<DeliveryState>, Fail> {
    blank(raw)
        .map(|s| {
            DeliveryState::from_str_opt(s).ok_or_else(|| {
                Fail::App(AppError::validation(
                    "state must be pending, sending, sent, failed or dropped",
                ))
            })
        })
        .transpose()
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    query: &PageQuery,
    form: &BroadcastForm,
    problem: Option<String>,
) -> Outcome {
    let may_send = allowed(state, viewer, "participants", "write").await?;
    let may_read_log = allowed(state, viewer, "settings", "read").await?;
    if !may_send && !may_read_log {
        return Err(Fail::App(AppError::forbidden(
            "this page needs the right to write participants or to read settings",
        )));
    }
    let core = &state.core;
    let broadcasts = match may_send {
        true => Some(core.broadcasts(&viewer.actor, BROADCASTS).await?),
        false => None,
    };
    let deliveries = match may_read_log {
        true => {
            let only = state_filter(&query.state)?;
            Some(core.push_deliveries(&viewer.actor, only, LOG_SIZE).await?)
        }
        false => None,
    };
    // Participants are shown by name.
    let ids: Vec<ParticipantId> = (broadcasts.iter().flatten())
        .filter_map(|b| b.participant_id)
        .chain(deliveries.iter().flatten().map(|d| d.participant_id))
        .collect();
    let names: HashMap<uuid::Uuid, String> = core
        .participants_by_ids(&viewer.actor, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id.0, p.name))
        .collect();
    let name = |id: ParticipantId| {
        names
            .get(&id.0)
            .cloned()
            .unwrap_or_else(|| id.0.to_string())
    };
    let broadcasts = broadcasts.map(|list| {
        list.into_iter()
            .map(|b| BroadcastRow {
                at: when(b.created_at),
                audience: match (b.audience, b.participant_id) {
                    (Audience::Participant, Some(id)) => name(id),
                    (audience, _) => format!("All {}", audience.as_str()),
                },
                link: b
                    .participant_id
                    .map(|id| format!("/console/participants/{}", id.0)),
                title: b.title,
                body: b.body,
            })
            .collect()
    });
    let log = deliveries.map(|list| {
        list.into_iter()
            .map(|d| {
                let who = name(d.participant_id);
                delivery_row(d, who)
            })
            .collect()
    });
    html(&NotificationsPage {
        viewer,
        nav: "notifications",
        broadcasts,
        form,
        log,
        state: query.state.trim(),
        states: &STATES,
        problem,
        notice: notice(&query.done, &NOTICES),
    })
}

fn delivery_row(d: Delivery, participant: String) -> DeliveryRow {
    DeliveryRow {
        at: d.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        participant,
        participant_link: format!("/console/participants/{}", d.participant_id.0),
        provider: d.provider.as_str(),
        kind: d.kind.as_str().to_owned(),
        state: d.state.as_str(),
        failed: d.state == DeliveryState::Failed,
        attempts: d.attempts,
        status: d.status_code.map(|s| s.to_string()).unwrap_or_default(),
        error: d.error.unwrap_or_default(),
        latency: d
            .latency_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default(),
    }
}

#[handler]
pub async fn show(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        let query: PageQuery = req.params().unwrap_or_default();
        let form = BroadcastForm {
            audience: "users".to_owned(),
            ..BroadcastForm::default()
        };
        render(state, &viewer, &query, &form, None).await
    }
    .await;
    finish(req, outcome)
}

/// The form's recipients: an audience and, for one participant, the id.
fn recipients(form: &BroadcastForm) -> Result<(Audience, Option<ParticipantId>), AppError> {
    let audience = Audience::from_str_opt(form.audience.trim()).ok_or_else(|| {
        AppError::validation("choose who hears it: users, astrologers or one participant")
    })?;
    if audience != Audience::Participant {
        return Ok((audience, None));
    }
    let id = blank(&form.participant)
        .ok_or_else(|| AppError::validation("enter the participant's id"))?
        .parse()
        .map_err(|_| AppError::validation("the participant's id is not an id"))?;
    Ok((audience, Some(ParticipantId(id))))
}

#[handler]
pub async fn broadcast(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<BroadcastForm>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "participants").await?;
        let sent = match recipients(&form) {
            Ok((audience, participant)) => {
                let title = blank(&form.title);
                (state.core)
                    .broadcast(&viewer.actor, audience, participant, title, &form.body)
                    .await
            }
            Err(err) => Err(err),
        };
        match sent {
            Ok(_) => see_other("/console/notifications?done=sent"),
            Err(err) => {
                let message = match err {
                    AppError::NotFound("participant") => {
                        "No participant of this tenant has that id.".to_owned()
                    }
                    other => problem(other)?,
                };
                let query = PageQuery::default();
                invalid(render(state, &viewer, &query, &form, Some(message)).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}
