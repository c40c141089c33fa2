//! The participants list (search, type, blocked, pages by cursor) with the
//! form to create one, which re-renders the list with its problem.

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form},
};
use serde::Deserialize;

use super::Row;
use crate::{
    console::admin::{
        Outcome, Viewer,
        common::{blank, invalid, problem, see_other, tenant_viewer, writer},
        finish, html, urlencode,
    },
    domain::{
        participant::{Filter, ParticipantInput, ParticipantType},
        values::{Email, Name, Password},
    },
    error::AppResult,
    state::AppState,
};

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
        let viewer = writer(state, req, form.csrf.as_deref(), "participants").await?;
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
