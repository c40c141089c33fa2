//! What an endpoint is given, checked once: its URL (the server-side
//! request forgery rule), its event types, its description; and its secret,
//! sealed at rest under the data key and bound to its tenant and endpoint.

use uuid::Uuid;

use super::EventType;
use crate::{
    domain::{Core, TenantId, sealed},
    error::{AppError, AppResult},
};

/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 255;

impl Core {
    /// The URL, checked against the server-side request forgery rule.
    pub(super) fn webhook_url(&self, raw: &str) -> AppResult<String> {
        self.delivery()
            .webhooks()
            .check_url(raw)
            .map(String::from)
            .map_err(AppError::validation)
    }

    pub(super) fn seal_secret(&self, tenant: TenantId, id: Uuid, secret: &str) -> Vec<u8> {
        sealed::seal_with_aad(
            &self.config().data_key,
            secret.as_bytes(),
            &secret_aad(tenant, id),
        )
    }

    /// An endpoint's secret, from its sealed form.
    pub(super) fn open_secret(&self, tenant: TenantId, id: Uuid, sealed: &[u8]) -> Option<String> {
        sealed::open_with_aad(&self.config().data_key, sealed, &secret_aad(tenant, id))
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    }
}

/// What a secret is bound to: it opens only as its own endpoint's.
fn secret_aad(tenant: TenantId, id: Uuid) -> Vec<u8> {
    let mut aad = b"samvad webhook secret v1:".to_vec();
    aad.extend_from_slice(tenant.0.as_bytes());
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// The event types, checked: known, at least one, each once.
pub(super) fn event_types(raw: &[String]) -> AppResult<Vec<String>> {
    let mut types = Vec::new();
    for t in raw {
        let t = t.trim();
        let known = EventType::from_str_opt(t).ok_or_else(|| {
            let all: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            AppError::validation(format!(
                "unknown event type `{t}`; known: {}",
                all.join(", ")
            ))
        })?;
        if !types.iter().any(|k: &String| k == known.as_str()) {
            types.push(known.as_str().to_owned());
        }
    }
    if types.is_empty() {
        return Err(AppError::validation(
            "eventTypes needs at least one event type",
        ));
    }
    Ok(types)
}

/// The description, trimmed; empty is none.
pub(super) fn description(raw: Option<String>) -> AppResult<Option<String>> {
    let Some(d) = raw.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::validation(format!(
            "description is longer than {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(Some(d))
}
