//! A report's page: who reported whom and why, the reported message in
//! its context (up to five messages either side, as they are now: deleted
//! ones show as deleted), and the three ways to settle an open report:
//! dismiss it, block the reported participant, delete the message for
//! everyone. A report already settled, or an action that does not apply,
//! shows its problem on the page. Same check (`participants write`) and
//! core calls as `/api/reports/{id}`.

use askama::Template;
use poem::{
    IntoResponse, Request, Response,
    error::ResponseError,
    handler,
    web::{Data, Form, Path},
};
use uuid::Uuid;

use super::{NOTICES, QueueQuery, ReportRow, Who, names, report_row, who};
use crate::{
    console::admin::{
        CsrfOnly, Outcome, Viewer,
        common::{notice, path_id, problem, see_other, tenant_viewer, when, writer},
        finish, html,
    },
    domain::{
        ParticipantId,
        message::{Message, MessageType},
        report::Resolution,
    },
    state::AppState,
};

/// A message around the reported one.
pub struct ContextRow {
    pub id: String,
    pub seq: u64,
    pub sender: Who,
    pub kind: String,
    /// Its text (escaped by the template); empty for media without one.
    pub content: String,
    pub deleted: bool,
    pub edited: bool,
    /// The reported message itself.
    pub reported: bool,
    pub at: String,
}

fn context_row(
    m: &Message,
    reported: Option<Uuid>,
    names: &std::collections::HashMap<ParticipantId, Who>,
) -> ContextRow {
    let sender = match (m.kind, m.sender_id) {
        (MessageType::System | MessageType::Call, _) | (_, None) => Who {
            name: "Samvad".to_owned(),
            kind: "samvad".to_owned(),
        },
        (_, Some(id)) => who(names, id),
    };
    ContextRow {
        id: m.id.0.to_string(),
        seq: m.seq,
        sender,
        kind: m.kind.as_str().to_owned(),
        content: m.content.clone().unwrap_or_default(),
        deleted: m.deleted_at.is_some(),
        edited: m.edited_at.is_some(),
        reported: Some(m.id.0) == reported,
        at: m.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

#[derive(Template)]
#[template(path = "console/report.html")]
struct ReportPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    r: ReportRow,
    conversation_id: String,
    /// The reported message's id (empty for a report of a participant).
    message_id: String,
    context: Vec<ContextRow>,
    resolved_by: String,
    resolved_at: String,
    problem: Option<String>,
    notice: Option<&'static str>,
}

async fn render_report(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    problem: Option<String>,
    done: &str,
) -> Outcome {
    let found = state.core.report_in_context(&viewer.actor, id).await?;
    let report = &found.report;
    let ids: Vec<ParticipantId> = [report.reporter_id, report.participant_id]
        .into_iter()
        .chain(report.resolved_by)
        .chain(found.context.iter().filter_map(|m| m.sender_id))
        .collect();
    let names = names(state, viewer, &ids).await?;
    let reported = report.message_id.map(|m| m.0);
    html(&ReportPage {
        viewer,
        nav: "moderation",
        r: report_row(report, &names),
        conversation_id: (report.conversation_id)
            .map(|c| c.0.to_string())
            .unwrap_or_default(),
        message_id: reported.map(|m| m.to_string()).unwrap_or_default(),
        context: (found.context.iter())
            .map(|m| context_row(m, reported, &names))
            .collect(),
        resolved_by: report
            .resolved_by
            .map(|p| who(&names, p).name)
            .unwrap_or_default(),
        resolved_at: report.resolved_at.map(when).unwrap_or_default(),
        problem,
        notice: notice(done, &NOTICES),
    })
}

/// A report with the reported message in its context.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&AppState>, Path(id): Path<String>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        (state.auth)
            .authorize(&viewer.actor, "participants", "write")
            .await?;
        let id = path_id(&id, "report")?;
        let query: QueueQuery = req.params().unwrap_or_default();
        render_report(state, &viewer, id, None, &query.done).await
    }
    .await;
    finish(req, outcome)
}

/// Settles the report `how`; back to its page with what was done, or the
/// page with the problem (already settled: 409; not about a message: 422).
async fn settle(
    req: &Request,
    state: &AppState,
    id: &str,
    csrf: Option<&str>,
    how: Resolution,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, csrf, "participants").await?;
        let id = path_id(id, "report")?;
        match state.core.resolve_report(&viewer.actor, id, how).await {
            Ok(_) => {
                let done = match how {
                    Resolution::Dismiss => "dismissed",
                    Resolution::BlockParticipant => "blocked",
                    Resolution::DeleteMessage => "deleted",
                };
                see_other(format!("/console/moderation/reports/{id}?done={done}"))
            }
            Err(err) => {
                let status = err.status();
                let message = problem(err)?;
                let page = render_report(state, &viewer, id, Some(message), "").await?;
                Ok(page.with_status(status).into_response())
            }
        }
    }
    .await;
    finish(req, outcome)
}

/// Dismisses a report: looked at, nothing done.
#[handler]
pub async fn dismiss(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    settle(req, state, &id, form.csrf.as_deref(), Resolution::Dismiss).await
}

/// Blocks the reported participant (their sessions end).
#[handler]
pub async fn block(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let how = Resolution::BlockParticipant;
    settle(req, state, &id, form.csrf.as_deref(), how).await
}

/// Deletes the reported message for everyone.
#[handler]
pub async fn delete_message(
    req: &Request,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let how = Resolution::DeleteMessage;
    settle(req, state, &id, form.csrf.as_deref(), how).await
}
