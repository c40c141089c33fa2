//! An endpoint's page: what it is, turning it off or on, and its delivery
//! log (the newest 100, each one sendable again with the same id and
//! body). Same checks (`settings` read to view, write to send again) and
//! core calls as `/api/webhooks/{id}/deliveries`.

use askama::Template;
use chrono::{DateTime, Utc};
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use uuid::Uuid;

use super::{DoneQuery, EndpointRow, NOTICES, endpoint_row, may_write};
use crate::{
    console::admin::{
        CsrfOnly, Outcome, Viewer,
        common::{invalid, notice, path_id, problem, see_other, tenant_viewer, writer},
        finish, html,
    },
    domain::webhook::{Delivery, DeliveryState},
    state::AppState,
};

/// How many deliveries the log shows.
const LOG_SIZE: u32 = 100;

/// A delivery as the log shows it.
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event_type: String,
    pub state: &'static str,
    pub failed: bool,
    /// Whether "Send again" applies (not while it is being sent).
    pub resendable: bool,
    pub attempts: u16,
    pub status: String,
    pub latency: String,
    pub error: String,
    /// The first bytes of the receiver's last answer.
    pub response: String,
    pub created: String,
    /// When a pending delivery is tried next.
    pub next: String,
    pub sent: String,
}

/// An instant to the second (UTC).
fn to_second(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn delivery_row(d: Delivery) -> DeliveryRow {
    DeliveryRow {
        id: d.id.to_string(),
        webhook_id: d.webhook_id(),
        event_type: d.event_type,
        state: d.state.as_str(),
        failed: d.state == DeliveryState::Failed,
        resendable: d.state != DeliveryState::Sending,
        attempts: d.attempts,
        status: d.status_code.map(|s| s.to_string()).unwrap_or_default(),
        latency: (d.latency_ms)
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default(),
        error: d.error.unwrap_or_default(),
        response: d.response_body.unwrap_or_default(),
        created: to_second(d.created_at),
        next: match d.state {
            DeliveryState::Pending => to_second(d.next_at),
            _ => String::new(),
        },
        sent: d.sent_at.map(to_second).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct EndpointPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    e: EndpointRow,
    deliveries: Vec<DeliveryRow>,
    may_write: bool,
    problem: Option<String>,
    notice: Option<&'static str>,
}

async fn render_endpoint(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    problem: Option<String>,
    done: &str,
) -> Outcome {
    let endpoint = state.core.webhook_endpoint(&viewer.actor, id).await?;
    let deliveries = (state.core)
        .webhook_deliveries(&viewer.actor, id, None, LOG_SIZE)
        .await?;
    html(&EndpointPage {
        viewer,
        nav: "webhooks",
        e: endpoint_row(endpoint),
        deliveries: deliveries.into_iter().map(delivery_row).collect(),
        may_write: may_write(state, viewer).await?,
        problem,
        notice: notice(done, &NOTICES),
    })
}

/// An endpoint and its delivery log.
#[handler]
pub async fn show(req: &Request, Data(state): Data<&AppState>, Path(id): Path<String>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        (state.auth)
            .authorize(&viewer.actor, "settings", "read")
            .await?;
        let id = path_id(&id, "webhook")?;
        let query: DoneQuery = req.params().unwrap_or_default();
        render_endpoint(state, &viewer, id, None, &query.done).await
    }
    .await;
    finish(req, outcome)
}

/// Sends a delivery again, now, with the same id and body. Refusals (the
/// endpoint is off, the delivery is being sent) show on the page.
#[handler]
pub async fn resend(
    req: &Request,
    Data(state): Data<&AppState>,
    Path((id, delivery)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let outcome = async {
        let viewer = writer(state, req, form.csrf.as_deref(), "settings").await?;
        let id = path_id(&id, "webhook")?;
        let delivery = path_id(&delivery, "delivery")?;
        match state.core.resend_webhook(&viewer.actor, id, delivery).await {
            Ok(()) => see_other(format!("/console/webhooks/{id}?done=resent#deliveries")),
            Err(err) => {
                let message = problem(err)?;
                invalid(render_endpoint(state, &viewer, id, Some(message), "").await)
            }
        }
    }
    .await;
    finish(req, outcome)
}
