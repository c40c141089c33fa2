//! A participant's page: the profile, contact details and sessions; the
//! form to edit the profile and contact details; and `change`, which every
//! action on the page goes through (checks, then redirect or re-render
//! with the problem).

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use super::{NOTICES, Row, participant_id};
use crate::{
    console::admin::{
        Outcome, Viewer,
        common::{blank, invalid, notice, problem, see_other, tenant_viewer, when, writer},
        finish, html,
    },
    domain::{
        ParticipantId,
        participant::{OwnProfile, ProfileChanges},
        values::{Email, Name, optional_text, parse_url},
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// A session in the participant's device list.
pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_seen: String,
    /// The session this console page is viewed with.
    pub current: bool,
}

#[derive(Deserialize, Default)]
pub struct EditForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    avatar: String,
    #[serde(default)]
    status: String,
}

impl EditForm {
    fn of(p: &Row) -> Self {
        Self {
            csrf: None,
            name: p.name.clone(),
            email: p.email.clone(),
            phone: p.phone.clone(),
            avatar: p.avatar.clone(),
            status: p.status.clone(),
        }
    }

    /// Every field is sent: an empty one clears it (the name cannot be).
    fn changes(&self) -> AppResult<ProfileChanges> {
        Ok(ProfileChanges {
            profile: OwnProfile {
                name: Some(Name::parse(&self.name)?),
                avatar_url: Some(
                    blank(&self.avatar)
                        .map(|a| parse_url(a, "avatar URL"))
                        .transpose()?,
                ),
                status_text: Some(optional_text(Some(&self.status), "status", 140)?),
            },
            email: Some(blank(&self.email).map(Email::parse).transpose()?),
            phone: Some(blank(&self.phone).map(str::to_owned)),
        })
    }
}

#[derive(Template)]
#[template(path = "console/participant.html")]
struct DetailPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    p: Row,
    edit: EditForm,
    sessions: Vec<SessionRow>,
    is_self: bool,
    /// Which form the problem belongs to: edit, access or password.
    problem_at: &'a str,
    problem: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct DetailQuery {
    #[serde(default)]
    done: String,
}

/// A form's problem, and the form it belongs to.
type Problem = Option<(&'static str, String)>;

async fn render_detail(
    state: &AppState,
    viewer: &Viewer,
    id: ParticipantId,
    edit: Option<EditForm>,
    problem: Problem,
    done: &str,
) -> Outcome {
    let p = Row::from(state.core.participant(viewer.actor.tenant()?, id).await?);
    let current = viewer.actor.session().ok();
    let sessions = state
        .core
        .participant_sessions(&viewer.actor, id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.0.to_string(),
            device: [s.device_name, s.user_agent]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            ip: s.ip.unwrap_or_default(),
            created: when(s.created_at),
            last_seen: when(s.last_used_at),
            current: Some(s.id) == current,
        })
        .collect();
    let (problem_at, problem) = match problem {
        Some((at, message)) => (at, Some(message)),
        None => ("", None),
    };
    html(&DetailPage {
        viewer,
        nav: "participants",
        edit: edit.unwrap_or_else(|| EditForm::of(&p)),
        is_self: p.id == viewer.actor.id.to_string(),
        p,
        sessions,
        problem_at,
        problem,
        notice: notice(done, &NOTICES),
    })
}

#[handler]
pub async fn show(req: &Request, Data(state): Data<&AppState>, Path(id): Path<String>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "participants", "read")
            .await?;
        let query: DetailQuery = req.params().unwrap_or_default();
        render_detail(
            state,
            &viewer,
            participant_id(&id)?,
            None,
            None,
            &query.done,
        )
        .await
    }
    .await;
    finish(req, outcome)
}

/// Checks the session, the token and `participants write`; then runs the
/// change, redirecting to the page with `done` or re-rendering it with the
/// problem (422) in the form `at`.
pub(super) async fn change<F, Fut>(
    state: &AppState,
    req: &Request,
    csrf: Option<&str>,
    raw_id: &str,
    at: &'static str,
    run: F,
) -> Outcome
where
    F: FnOnce(Viewer, ParticipantId) -> Fut,
    Fut: std::future::Future<Output = (Viewer, Result<&'static str, AppError>, Option<EditForm>)>,
{
    let viewer = writer(state, req, csrf, "participants").await?;
    let id = participant_id(raw_id)?;
    let (viewer, result, edit) = run(viewer, id).await;
    match result {
        Ok(done) => see_other(format!("/console/participants/{}?done={done}", id.0)),
        Err(err) => {
            let message = problem(err)?;
            invalid(render_detail(state, &viewer, id, edit, Some((at, message)), "").await)
        }
    }
}

#[handler]
pub async fn update(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Response {
    let csrf = form.csrf.clone();
    let outcome = change(
        state,
        req,
        csrf.as_deref(),
        &id,
        "edit",
        |viewer, id| async move {
            let result = match form.changes() {
                Ok(changes) => state
                    .core
                    .update_participant(&viewer.actor, id, changes)
                    .await
                    .map(|_| "saved"),
                Err(err) => Err(err),
            };
            (viewer, result, Some(form))
        },
    )
    .await;
    finish(req, outcome)
}
