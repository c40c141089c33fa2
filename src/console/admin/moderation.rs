//! Moderation: the reports queue (open ones by default, newest first; the
//! settled ones by filter) and, below it, the contact guard (its rules,
//! the form that changes them, in `guard`, and the newest flags). Each
//! report's page, with the reported message in its context and the three
//! ways to settle it, is in `report`. Same checks and core calls as
//! `/api/reports` and `/api/moderation/contact-flags` (`participants
//! write`); the guard's rules are settings (`settings` read to see them,
//! write to change them), saved through the same use case as
//! `PATCH /api/settings`.

mod guard;
mod report;

use std::collections::HashMap;

use askama::Template;
use poem::{Request, Response, handler, web::Data};
use serde::Deserialize;

pub use guard::save_guard;
pub use report::{block, delete_message, dismiss, show};

use self::guard::{FlagRow, GuardView, flag_rows};
use super::{
    Fail, Outcome, Viewer,
    common::{notice, tenant_viewer, when},
    finish, html,
};
use crate::{
    domain::{
        ParticipantId,
        report::{Report, ReportStatus},
    },
    error::AppError,
    state::AppState,
};

/// How many reports the queue shows, and how many flags.
const PAGE_SIZE: u32 = 100;

const NOTICES: [(&str, &str); 4] = [
    (
        "guard-saved",
        "Contact guard saved: it applies to the next message sent.",
    ),
    ("dismissed", "Report dismissed: nothing was done."),
    (
        "blocked",
        "Participant blocked: their sessions have ended and they cannot sign in.",
    ),
    (
        "deleted",
        "Message deleted for everyone in the conversation.",
    ),
];

/// A participant's name and type (`user`, `astrologer`, `admin`), or a
/// stand-in for one who is gone.
#[derive(Clone)]
pub struct Who {
    pub name: String,
    pub kind: String,
}

/// The names and types of `ids`.
async fn names(
    state: &AppState,
    viewer: &Viewer,
    ids: &[ParticipantId],
) -> Result<HashMap<ParticipantId, Who>, Fail> {
    Ok(state
        .core
        .participants_by_ids(&viewer.actor, ids)
        .await?
        .into_iter()
        .map(|p| {
            let who = Who {
                name: p.name,
                kind: p.kind.as_str().to_owned(),
            };
            (p.id, who)
        })
        .collect())
}

fn who(names: &HashMap<ParticipantId, Who>, id: ParticipantId) -> Who {
    names.get(&id).cloned().unwrap_or_else(|| Who {
        name: "Former member".to_owned(),
        kind: "member".to_owned(),
    })
}

/// A report as the queue and its page show it.
pub struct ReportRow {
    pub id: String,
    pub reporter: Who,
    pub reported: Who,
    pub reported_id: String,
    /// `message` or `participant`.
    pub subject: &'static str,
    pub reason: String,
    pub details: String,
    pub status: &'static str,
    pub open: bool,
    /// What was done, in words (empty while open).
    pub resolution: String,
    pub created: String,
}

fn report_row(r: &Report, names: &HashMap<ParticipantId, Who>) -> ReportRow {
    ReportRow {
        id: r.id.to_string(),
        reporter: who(names, r.reporter_id),
        reported: who(names, r.participant_id),
        reported_id: r.participant_id.0.to_string(),
        subject: if r.message_id.is_some() {
            "message"
        } else {
            "participant"
        },
        reason: r.reason.as_str().replace('_', " "),
        details: r.details.clone().unwrap_or_default(),
        status: r.status.as_str(),
        open: r.status == ReportStatus::Open,
        resolution: r
            .resolution
            .map(|x| x.as_str().replace('_', " "))
            .unwrap_or_default(),
        created: when(r.created_at),
    }
}

/// Whether the viewer may `action` on `object` (a refusal is `false`).
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

/// The queue's filter: `open` (the default), `dismissed`, `actioned` or
/// `all`.
#[derive(Deserialize, Default)]
struct QueueQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    done: String,
}

#[derive(Template)]
#[template(path = "console/moderation.html")]
struct ModerationPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    /// The filter chosen: open, dismissed, actioned or all.
    status: String,
    reports: Vec<ReportRow>,
    /// `None` when the viewer may not read settings.
    guard: Option<GuardView>,
    /// Whether the viewer may change the guard.
    may_change_guard: bool,
    flags: Vec<FlagRow>,
    problem: Option<String>,
    notice: Option<&'static str>,
}

/// What the page shows besides the stored state.
#[derive(Default)]
struct Render {
    /// The queue's filter (empty: open).
    status: String,
    /// The guard form as typed, when it had a problem.
    typed: Option<GuardView>,
    problem: Option<String>,
    done: String,
}

async fn render(state: &AppState, viewer: &Viewer, r: Render) -> Outcome {
    let status = match r.status.trim() {
        "" => "open",
        other => other,
    };
    let filter = match status {
        "all" => None,
        raw => Some(ReportStatus::from_str_opt(raw).ok_or_else(|| {
            AppError::validation("status must be open, dismissed, actioned or all")
        })?),
    };
    let found = state.core.reports(&viewer.actor, filter, PAGE_SIZE).await?;
    let flags = (state.core)
        .contact_flags(&viewer.actor, None, PAGE_SIZE)
        .await?;
    let ids: Vec<ParticipantId> = found
        .iter()
        .flat_map(|r| [r.reporter_id, r.participant_id])
        .chain(flags.iter().map(|f| f.sender_id))
        .collect();
    let names = names(state, viewer, &ids).await?;
    let guard = match (r.typed, allowed(state, viewer, "settings", "read").await?) {
        (Some(typed), _) => Some(typed),
        (None, true) => {
            let settings = state.core.settings_of(viewer.actor.tenant()?).await?;
            Some(GuardView::of(&settings.contact_guard))
        }
        (None, false) => None,
    };
    html(&ModerationPage {
        viewer,
        nav: "moderation",
        status: status.to_owned(),
        reports: found.iter().map(|r| report_row(r, &names)).collect(),
        may_change_guard: guard.is_some() && allowed(state, viewer, "settings", "write").await?,
        guard,
        flags: flag_rows(&flags, &names),
        problem: r.problem,
        notice: notice(&r.done, &NOTICES),
    })
}

/// The reports queue and the contact guard.
#[handler]
pub async fn list(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        (state.auth)
            .authorize(&viewer.actor, "participants", "write")
            .await?;
        let query: QueueQuery = req.params().unwrap_or_default();
        let r = Render {
            status: query.status,
            done: query.done,
            ..Render::default()
        };
        render(state, &viewer, r).await
    }
    .await;
    finish(req, outcome)
}
