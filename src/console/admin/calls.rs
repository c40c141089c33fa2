//! Call history: the filtered table and the same set as CSV.

use std::collections::HashMap;

use askama::Template;
use poem::{Request, Response, handler, http::header, web::Data};
use serde::Deserialize;

use super::{
    Fail, Viewer,
    common::{blank, day},
    finish, html, urlencode, viewer,
};
use crate::{
    domain::{
        ParticipantId,
        call::{Call, CallFilter, CallStatus, CallType},
    },
    error::AppError,
    state::AppState,
};

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
            .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
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
