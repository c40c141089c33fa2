//! Policies: the tenant's casbin rules, granting and revoking them (the
//! core validates and protects `admin policies write`), and a dry run of
//! "may this role do that". Same checks (`policies` read/write) and core
//! calls as `/api/policies`.

use askama::Template;
use poem::{
    Request, Response, handler,
    web::{Data, Form},
};
use serde::Deserialize;

use super::{
    Outcome, Viewer,
    common::{invalid, notice, problem, see_other, tenant_viewer, writer},
    finish, html,
};
use crate::{
    domain::policy::{ACTIONS, OBJECTS, ROLES, Rule},
    state::AppState,
};

const NOTICES: [(&str, &str); 2] = [
    ("added", "Rule granted; it applies from the next request."),
    ("removed", "Rule revoked; it applies from the next request."),
];

/// A rule form, also the dry-run question.
#[derive(Deserialize, Default)]
pub struct RuleForm {
    #[serde(default, rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    role: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    done: String,
}

/// The dry run's answer.
pub struct Answer {
    pub question: String,
    pub allowed: bool,
}

#[derive(Template)]
#[template(path = "console/policies.html")]
struct PoliciesPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    rules: Vec<Rule>,
    roles: &'a [&'a str],
    objects: &'a [(&'a str, &'a str)],
    actions: &'a [&'a str],
    form: &'a RuleForm,
    /// Which form the problem belongs to: add, remove or check.
    problem_at: &'a str,
    problem: Option<String>,
    check: &'a RuleForm,
    answer: Option<Answer>,
    notice: Option<&'static str>,
}

struct Render<'a> {
    form: &'a RuleForm,
    problem: Option<(&'static str, String)>,
    check: &'a RuleForm,
    answer: Option<Answer>,
    done: &'a str,
}

async fn render(state: &AppState, viewer: &Viewer, r: Render<'_>) -> Outcome {
    let rules = state.core.policy_rules(viewer.actor.tenant()?).await?;
    let (problem_at, problem) = match r.problem {
        Some((at, message)) => (at, Some(message)),
        None => ("", None),
    };
    html(&PoliciesPage {
        viewer,
        nav: "policies",
        rules,
        roles: &ROLES,
        objects: &OBJECTS,
        actions: &ACTIONS,
        form: r.form,
        problem_at,
        problem,
        check: r.check,
        answer: r.answer,
        notice: notice(r.done, &NOTICES),
    })
}

#[handler]
pub async fn list(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "policies", "read")
            .await?;
        let query: RuleForm = req.params().unwrap_or_default();
        let empty = RuleForm::default();
        let r = Render {
            form: &empty,
            problem: None,
            check: &empty,
            answer: None,
            done: &query.done,
        };
        render(state, &viewer, r).await
    }
    .await;
    finish(req, outcome)
}

/// Dry run: a GET, as it changes nothing.
#[handler]
pub async fn check(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        state
            .auth
            .authorize(&viewer.actor, "policies", "read")
            .await?;
        let query: RuleForm = req.params().unwrap_or_default();
        let empty = RuleForm::default();
        let checked = match Rule::parse(&query.role, &query.object, &query.action) {
            Ok(rule) => state
                .auth
                .check(
                    viewer.actor.tenant()?,
                    &rule.role,
                    &rule.object,
                    &rule.action,
                )
                .await
                .map(|allowed| Answer {
                    question: format!("{} {} {}", rule.role, rule.action, rule.object),
                    allowed,
                }),
            Err(err) => Err(err),
        };
        match checked {
            Ok(answer) => {
                let r = Render {
                    form: &empty,
                    problem: None,
                    check: &query,
                    answer: Some(answer),
                    done: "",
                };
                render(state, &viewer, r).await
            }
            Err(err) => {
                let r = Render {
                    form: &empty,
                    problem: Some(("check", problem(err)?)),
                    check: &query,
                    answer: None,
                    done: "",
                };
                invalid(render(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

/// Grants (`add`) or revokes a rule.
async fn edit(state: &AppState, req: &Request, form: &RuleForm, grant: bool) -> Outcome {
    let viewer = writer(state, req, form.csrf.as_deref(), "policies").await?;
    let result = match Rule::parse(&form.role, &form.object, &form.action) {
        Ok(rule) if grant => state.core.add_policy_rule(&viewer.actor, rule).await,
        Ok(rule) => state.core.remove_policy_rule(&viewer.actor, rule).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => see_other(if grant {
            "/console/policies?done=added"
        } else {
            "/console/policies?done=removed"
        }),
        Err(err) => {
            let at = if grant { "add" } else { "remove" };
            let empty = RuleForm::default();
            let r = Render {
                form: if grant { form } else { &empty },
                problem: Some((at, problem(err)?)),
                check: &empty,
                answer: None,
                done: "",
            };
            invalid(render(state, &viewer, r).await)
        }
    }
}

#[handler]
pub async fn add(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<RuleForm>,
) -> Response {
    let outcome = edit(state, req, &form, true).await;
    finish(req, outcome)
}

#[handler]
pub async fn remove(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<RuleForm>,
) -> Response {
    let outcome = edit(state, req, &form, false).await;
    finish(req, outcome)
}
