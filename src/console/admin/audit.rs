//! The audit log: who did what (admin actions, policy changes, key use,
//! logins), newest first, filtered by action, actor and dates, paged by
//! cursor. Same check (`audit read`) as `/api/audit-log`.

use std::collections::HashMap;

use askama::Template;
use poem::{Request, Response, handler, web::Data};
use serde::Deserialize;

use super::{
    Fail, Viewer,
    common::{blank, day, tenant_viewer},
    finish, html, urlencode,
};
use crate::{
    domain::{ParticipantId, audit::Filter},
    error::AppError,
    state::AppState,
};

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cursor: String,
}

impl AuditQuery {
    fn filter(&self) -> Result<Filter, Fail> {
        Ok(Filter {
            action: blank(&self.action).map(str::to_owned),
            actor: blank(&self.actor)
                .map(str::parse)
                .transpose()
                .map_err(|_| AppError::validation("actor must be an id"))?,
            from: day(&self.from, "from")?,
            // The whole "to" day is included.
            to: day(&self.to, "to")?.map(|d| d + chrono::Duration::days(1)),
        })
    }

    /// The query string of this filter (for links), without the cursor.
    fn link(&self) -> String {
        [
            ("action", &self.action),
            ("actor", &self.actor),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// An entry as the table shows it.
pub struct EntryRow {
    pub at: String,
    pub actor_id: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    /// A link to the target when the console has a page for it.
    pub target_link: Option<String>,
    pub detail: String,
    pub ip: String,
}

/// Actions an admin will look for; the field also takes any other.
const COMMON_ACTIONS: [&str; 17] = [
    "auth.login",
    "auth.logout",
    "participant.create",
    "participant.update",
    "participant.block",
    "participant.unblock",
    "participant.password_set",
    "participant.sessions_revoke",
    "policy.add",
    "policy.remove",
    "settings.update",
    "api_key.create",
    "api_key.revoke",
    "agora.set",
    "push.fcm.set",
    "push.apns.set",
    "notifications.broadcast",
];

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    viewer: &'a Viewer,
    nav: &'a str,
    query: &'a AuditQuery,
    actions: &'a [&'a str],
    link: String,
    rows: Vec<EntryRow>,
    next: Option<String>,
}

#[handler]
pub async fn list(req: &Request, Data(state): Data<&AppState>) -> Response {
    let outcome = async {
        let viewer = tenant_viewer(state, req).await?;
        state.auth.authorize(&viewer.actor, "audit", "read").await?;
        let query: AuditQuery = req.params().unwrap_or_default();
        let page = state
            .core
            .audit_entries(
                viewer.actor.tenant()?,
                &query.filter()?,
                blank(&query.cursor),
                50,
            )
            .await?;
        // Actors and targets that are participants are shown by name.
        let ids: Vec<ParticipantId> = page
            .items
            .iter()
            .flat_map(|r| [r.actor_id, r.target_id])
            .flatten()
            .map(ParticipantId)
            .collect();
        let names: HashMap<uuid::Uuid, String> = state
            .core
            .participants_by_ids(&viewer.actor, &ids)
            .await?
            .into_iter()
            .map(|p| (p.id.0, p.name))
            .collect();
        let name = |id: uuid::Uuid| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
        let rows = page
            .items
            .into_iter()
            .map(|r| {
                let target_link = match (r.target_type.as_deref(), r.target_id) {
                    (Some("participant"), Some(id)) => Some(format!("/console/participants/{id}")),
                    (Some("conversation"), Some(id)) => {
                        Some(format!("/console/conversations/{id}"))
                    }
                    _ => None,
                };
                EntryRow {
                    at: r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    actor_id: r.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                    actor: r.actor_id.map(name).unwrap_or_else(|| "—".to_owned()),
                    role: r.actor_role,
                    action: r.action,
                    target: match (r.target_type, r.target_id) {
                        (Some(kind), Some(id)) if kind == "participant" => name(id),
                        (Some(kind), Some(id)) => format!("{kind} {id}"),
                        (Some(kind), None) => kind,
                        _ => String::new(),
                    },
                    target_link,
                    detail: r.detail.unwrap_or_default(),
                    ip: r.ip.unwrap_or_default(),
                }
            })
            .collect();
        html(&AuditPage {
            viewer: &viewer,
            nav: "audit",
            link: query.link(),
            query: &query,
            actions: &COMMON_ACTIONS,
            rows,
            next: page.next_cursor,
        })
    }
    .await;
    finish(req, outcome)
}
