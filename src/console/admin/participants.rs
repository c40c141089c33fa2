//! Participants: the list (search, type, blocked, pages by cursor) with the
//! form to create one, and a participant's page: edit the profile and
//! contact details, block or unblock, set a password or email a reset link,
//! see their sessions and end them. Same casbin checks (`participants`
//! read/write) and core calls as `/api/participants`.

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;

use super::{
    CsrfOnly, Fail, Outcome, Viewer, check_csrf,
    common::{blank, invalid, notice, path_id, problem, see_other, tenant_viewer, when},
    finish, html, urlencode,
};
use crate::{
    app::AppState,
    domain::{
        ParticipantId, SessionId,
        participant::{
            Filter, OwnProfile, Participant, ParticipantInput, ParticipantType, ProfileChanges,
        },
        session::Device,
        values::{Email, Name, Password, optional_text, parse_url},
    },
    error::{AppError, AppResult},
};

const NOTICES: [(&str, &str); 8] = [
    ("created", "Participant created."),
    ("saved", "Changes saved."),
    ("blocked", "Blocked: every session of theirs has ended."),
    ("unblocked", "Unblocked: they can sign in again."),
    (
        "password",
        "Password set: every session of theirs has ended.",
    ),
    (
        "reset-sent",
        "If the account can sign in, a reset link is on its way to its email address.",
    ),
    ("session-ended", "Session ended."),
    ("sessions-ended", "Every session ended."),
];

/// A participant as the list and the page show it.
pub struct Row {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub email: String,
    pub email_verified: bool,
    pub phone: String,
    pub phone_verified: bool,
    pub avatar: String,
    pub status: String,
    pub blocked: bool,
    pub last_seen: String,
    pub created: String,
}

impl From<Participant> for Row {
    fn from(p: Participant) -> Self {
        Self {
            id: p.id.0.to_string(),
            kind: p.kind.as_str().to_owned(),
            email_verified: p.email.is_some() && p.email_verified_at.is_some(),
            phone_verified: p.phone.is_some() && p.phone_verified_at.is_some(),
            name: p.name,
            email: p.email.unwrap_or_default(),
            phone: p.phone.unwrap_or_default(),
            avatar: p.avatar_url.unwrap_or_default(),
            status: p.status_text.unwrap_or_default(),
            blocked: p.blocked,
            last_seen: p.last_seen_at.map(when).unwrap_or_default(),
            created: when(p.created_at),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default, rename = "type")]
    kind: String,
    /// `yes`, `no` or empty (either).
    #[serde(default)]
    blocked: String,
    #[serde(default)]
    cursor: String,
}

impl ListQuery {
    /// The query string of this filter (for links), without the cursor.
    fn link(&self) -> String {
        [
            ("q", &self.q),
            ("type", &self.kind),
            ("blocked", &self.blocked),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Deserialize, Default)]
pub struct CreateForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    password: String,
}

impl CreateForm {
    fn input(&self) -> AppResult<ParticipantInput> {
        Ok(ParticipantInput {
            kind: ParticipantType::parse(&self.kind)?,
            name: Name::parse(&self.name)?,
            email: blank(&self.email).map(Email::parse).transpose()?,
            phone: blank(&self.phone).map(str::to_owned),
            password: blank(&self.password).map(Password::parse).transpose()?,
            legacy_id: None,
        })
    }
}

#[derive(Template)]
#[template(path = "console/participants.html")]
struct ListPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    query: &'a ListQuery,
    link: String,
    rows: Vec<Row>,
    next: Option<String>,
    form: &'a CreateForm,
    problem: Option<String>,
}

async fn render_list(
    state: &AppState,
    viewer: &Viewer,
    query: &ListQuery,
    form: &CreateForm,
    problem: Option<String>,
) -> Outcome {
    let filter = Filter {
        q: blank(&query.q).map(str::to_owned),
        kind: blank(&query.kind).map(ParticipantType::parse).transpose()?,
        blocked: match query.blocked.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
    };
    let page = state
        .core
        .participants(viewer.actor.tenant()?, &filter, blank(&query.cursor), 30)
        .await?;
    html(&ListPage {
        viewer,
        nav: "participants",
        query,
        link: query.link(),
        rows: page.items.into_iter().map(Row::from).collect(),
        next: page.next_cursor,
        form,
        problem,
    })
}

#[handler]
pub async fn list(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "participants", "read")
            .await?;
        let query: ListQuery = req.params().unwrap_or_default();
        render_list(state, &viewer, &query, &CreateForm::default(), None).await
    }
    .await;
    finish(req, outcome)
}

#[handler]
pub async fn create(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<CreateForm>,
) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        check_csrf(req, &viewer, form.csrf.as_deref())?;
        state
            .auth
            .authorize(&viewer.actor, "participants", "write")
            .await?;
        let created = match form.input() {
            Ok(input) => {
                state
                    .core
                    .create_participant(Some(&viewer.actor), viewer.actor.tenant()?, input)
                    .await
            }
            Err(err) => Err(err),
        };
        match created {
            Ok(p) => see_other(format!("/console/participants/{}?done=created", p.id.0)),
            Err(err) => {
                let message = problem(err)?;
                let query = ListQuery::default();
                invalid(render_list(state, &viewer, &query, &form, Some(message)).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

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

fn participant_id(raw: &str) -> Result<ParticipantId, Fail> {
    path_id(raw, "participant").map(ParticipantId)
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
async fn change<F, Fut>(
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
    let viewer = tenant_viewer(state, req).await?;
    check_csrf(req, &viewer, csrf)?;
    state
        .auth
        .authorize(&viewer.actor, "participants", "write")
        .await?;
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

#[derive(Deserialize)]
pub struct BlockForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    blocked: String,
}

#[handler]
pub async fn block(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<BlockForm>,
) -> Response {
    let blocked = form.blocked == "true";
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "access",
        |viewer, id| async move {
            let result = state
                .core
                .set_participant_blocked(&viewer.actor, id, blocked)
                .await
                .map(|_| if blocked { "blocked" } else { "unblocked" });
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    password: String,
}

#[handler]
pub async fn set_password(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "password",
        |viewer, id| async move {
            let result = match Password::parse(&form.password) {
                Ok(password) => state
                    .core
                    .set_participant_password(&viewer.actor, id, &password)
                    .await
                    .map(|()| "password"),
                Err(err) => Err(err),
            };
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

/// Emails the participant the same reset link as "forgot password".
#[handler]
pub async fn reset_link(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "password",
        |viewer, id| async move {
            let result = async {
                let tenant = state.core.tenant(viewer.actor.tenant()?).await?;
                let p = state.core.participant(tenant.id, id).await?;
                let email = p.email.as_deref().ok_or_else(|| {
                    AppError::validation("this participant has no email address to send a link to")
                })?;
                state
                    .core
                    .forgot_password(
                        &tenant.slug,
                        &Email::parse(email)?,
                        // Sent by an admin from the console: no origin to check.
                        &Device {
                            ip: viewer.actor.ip.clone(),
                            ..Device::default()
                        },
                    )
                    .await
                    .map(|()| "reset-sent")
            }
            .await;
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

#[handler]
pub async fn revoke_session(
    req: &Request,
    Data(state): Data<&AppState>,
    Path((id, session)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "sessions",
        |viewer, id| async move {
            let result = match session.parse() {
                Ok(session) => state
                    .core
                    .revoke_participant_session(&viewer.actor, id, SessionId(session))
                    .await
                    .map(|()| "session-ended"),
                Err(_) => Err(AppError::NotFound("session")),
            };
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}

#[handler]
pub async fn revoke_sessions(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = change(
        state,
        req,
        form.csrf.as_deref(),
        &id,
        "sessions",
        |viewer, id| async move {
            let result = state
                .core
                .revoke_participant_sessions(&viewer.actor, id)
                .await
                .map(|_| "sessions-ended");
            (viewer, result, None)
        },
    )
    .await;
    finish(req, outcome)
}
