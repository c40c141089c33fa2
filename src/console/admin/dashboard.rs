//! The dashboard: a tenant's activity and storage at a glance (the
//! superadmin goes to the tenants page instead).

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
    /// The files' bytes and the quota, for people.
    storage_used: String,
    storage_quota: String,
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
            storage_used: human_bytes(d.storage_used),
            storage_quota: human_bytes(d.storage_quota),
            d,
            bars,
        })
    }
    .await;
    finish(req, outcome)
}

/// Bytes for people: `512 B`, `300.0 KB`, `1.4 MB`, `10.0 GB` (powers of
/// 1024, one decimal above bytes).
pub(super) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KB");
        assert_eq!(human_bytes(300 * 1024), "300.0 KB");
        assert_eq!(human_bytes(1_468_006), "1.4 MB");
        assert_eq!(human_bytes(10 * 1024 * 1024 * 1024), "10.0 GB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PB");
    }
}
