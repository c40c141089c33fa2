//! The dashboard: a tenant's activity at a glance (the superadmin goes to
//! the tenants page instead).

use askama::Template;
use poem::{
    IntoResponse, Request, Response, handler,
    web::{Data, Redirect},
};

use super::{Viewer, finish, html, viewer};
use crate::{domain::dashboard::Dashboard, state::AppState};

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
