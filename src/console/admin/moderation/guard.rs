//! The contact guard on the Moderation page: its rules as the form shows
//! them, the form that changes them (saved with the rest of the tenant's
//! settings, through the same use case as `PATCH /api/settings`), and the
//! flags it raised.

use std::collections::HashMap;

use poem::{
    Request, Response, handler,
    web::{Data, Form},
};

use super::{Render, Who, render, who};
use crate::{
    console::admin::{
        common::{invalid, problem, see_other, writer},
        finish,
    },
    domain::{
        ParticipantId,
        guard::{Flag, GuardMode, GuardRules},
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// The guard's rules as the form shows them (or as they were typed).
pub struct GuardView {
    /// off, mask or block.
    pub mode: String,
    pub phones: bool,
    pub emails: bool,
    pub links: bool,
    pub handles: bool,
    /// The tenant's own patterns, one per line.
    pub patterns: String,
}

impl GuardView {
    pub fn of(rules: &GuardRules) -> Self {
        Self {
            mode: rules.mode.as_str().to_owned(),
            phones: rules.phones,
            emails: rules.emails,
            links: rules.links,
            handles: rules.handles,
            patterns: rules.patterns.join("\n"),
        }
    }

    /// What the form posted (a box left unticked is not sent).
    fn typed(form: &[(String, String)]) -> Self {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        Self {
            mode: field("mode").unwrap_or_default().trim().to_owned(),
            phones: field("phones").is_some(),
            emails: field("emails").is_some(),
            links: field("links").is_some(),
            handles: field("handles").is_some(),
            patterns: field("patterns").unwrap_or_default().to_owned(),
        }
    }

    /// These values over `current` (a copy: it compiles its own guard).
    fn apply_to(&self, current: &GuardRules) -> AppResult<GuardRules> {
        let mut rules = current.clone();
        rules.mode = GuardMode::from_str_opt(&self.mode)
            .ok_or_else(|| AppError::validation("choose off, mask or block"))?;
        rules.phones = self.phones;
        rules.emails = self.emails;
        rules.links = self.links;
        rules.handles = self.handles;
        // One per line; blank lines are left out. The core checks each.
        rules.patterns = self
            .patterns
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(rules)
    }
}

/// A flag as the page shows it.
pub struct FlagRow {
    pub sender: Who,
    pub sender_id: String,
    pub conversation_id: String,
    /// blocked or masked.
    pub action: String,
    /// Comma-separated: phone, email, link, handle, pattern.
    pub kinds: String,
    /// What the sender wrote (escaped by the template).
    pub excerpt: String,
    pub created: String,
}

pub fn flag_rows(flags: &[Flag], names: &HashMap<ParticipantId, Who>) -> Vec<FlagRow> {
    flags
        .iter()
        .map(|f| FlagRow {
            sender: who(names, f.sender_id),
            sender_id: f.sender_id.0.to_string(),
            conversation_id: f.conversation_id.0.to_string(),
            action: f.action.clone(),
            kinds: f.kinds.replace(',', ", "),
            excerpt: f.excerpt.clone(),
            created: super::when(f.created_at),
        })
        .collect()
}

/// Saves the guard's rules; a problem (an unknown mode, a pattern that
/// does not compile) comes back in the form, with what was typed.
#[handler]
pub async fn save_guard(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        let csrf = form
            .iter()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.as_str());
        // The page's own check, then the settings' one.
        let viewer = writer(state, req, csrf, "participants").await?;
        (state.auth)
            .authorize(&viewer.actor, "settings", "write")
            .await?;
        let typed = GuardView::typed(&form);
        let saved = async {
            let current = state.core.settings_of(viewer.actor.tenant()?).await?;
            let mut settings = (*current).clone();
            settings.contact_guard = typed.apply_to(&current.contact_guard)?;
            state
                .core
                .update_settings(&viewer.actor, settings, None)
                .await
        }
        .await;
        match saved {
            Ok(_) => see_other("/console/moderation?done=guard-saved#guard"),
            Err(err) => {
                let r = Render {
                    problem: Some(problem(err)?),
                    typed: Some(typed),
                    ..Render::default()
                };
                invalid(render(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}
