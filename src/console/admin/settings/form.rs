//! The tunables form of the settings page (OTP codes, rate limits,
//! messages, calls, phone region, allowed origins): its sections, reading
//! the stored settings into form values and back, the fields the template
//! shows, and the handler that saves it.

use std::collections::HashMap;

use poem::{
    Request, Response, handler,
    web::{Data, Form},
};

use super::{Render, render};
use crate::console::admin::common::writer;
use crate::{
    console::admin::{
        common::{invalid, problem, see_other},
        finish,
    },
    domain::{
        settings::{Rate, TenantSettings},
        values::Region,
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// A whole-number setting: form key, label, bounds.
type Number = (&'static str, &'static str, &'static str);
/// A rate setting: form key prefix and label.
type RateSpec = (&'static str, &'static str);

/// The form's sections, in order.
const GROUPS: [(&str, &[Number], &[RateSpec]); 4] = [
    (
        "One-time codes",
        &[
            ("otp_ttl", "Code lifetime (seconds)", "60–3600"),
            (
                "otp_max_attempts",
                "Wrong codes before a code is spent",
                "1–10",
            ),
            (
                "otp_resend_cooldown",
                "Seconds before another code to the same destination",
                "0–3600",
            ),
        ],
        &[
            ("otp_send_per_ip", "Codes sent per IP address"),
            ("otp_send_per_destination", "Codes sent per destination"),
            ("otp_verify_per_ip", "Code checks per IP address"),
            ("otp_verify_per_destination", "Code checks per destination"),
        ],
    ),
    (
        "Sign-in",
        &[],
        &[
            ("login_per_ip", "Logins per IP address"),
            ("login_per_account", "Logins per account"),
        ],
    ),
    (
        "Messages",
        &[
            (
                "max_message_chars",
                "Longest message (characters)",
                "1–20000",
            ),
            (
                "message_edit_window",
                "Edit window after sending (seconds)",
                "0–604800",
            ),
        ],
        &[(
            "messages_per_participant",
            "Messages one participant may send",
        )],
    ),
    (
        "Calls",
        &[
            ("ring_timeout", "Ring timeout (seconds)", "1–600"),
            (
                "call_token_ttl",
                "Call token lifetime (seconds)",
                "60–86400",
            ),
        ],
        &[("calls_per_participant", "Calls one participant may start")],
    ),
];

fn number_mut<'a>(s: &'a mut TenantSettings, key: &str) -> Option<&'a mut u32> {
    Some(match key {
        "otp_ttl" => &mut s.otp_ttl_secs,
        "otp_resend_cooldown" => &mut s.otp_resend_cooldown_secs,
        "max_message_chars" => &mut s.max_message_chars,
        "message_edit_window" => &mut s.message_edit_window_secs,
        "ring_timeout" => &mut s.ring_timeout_secs,
        "call_token_ttl" => &mut s.call_token_ttl_secs,
        _ => return None,
    })
}

fn rate_mut<'a>(s: &'a mut TenantSettings, key: &str) -> Option<&'a mut Rate> {
    Some(match key {
        "otp_send_per_ip" => &mut s.otp_send_per_ip,
        "otp_send_per_destination" => &mut s.otp_send_per_destination,
        "otp_verify_per_ip" => &mut s.otp_verify_per_ip,
        "otp_verify_per_destination" => &mut s.otp_verify_per_destination,
        "login_per_ip" => &mut s.login_per_ip,
        "login_per_account" => &mut s.login_per_account,
        "messages_per_participant" => &mut s.messages_per_participant,
        "calls_per_participant" => &mut s.calls_per_participant,
        _ => return None,
    })
}

/// The form's values for the stored settings.
pub(super) fn values_of(s: &TenantSettings, region: &str) -> HashMap<String, String> {
    let mut s = s.clone();
    let mut values = HashMap::new();
    for (_, numbers, rates) in GROUPS {
        for (key, _, _) in numbers {
            let value = match *key {
                "otp_max_attempts" => u32::from(s.otp_max_attempts),
                _ => number_mut(&mut s, key).map_or(0, |n| *n),
            };
            values.insert((*key).to_owned(), value.to_string());
        }
        for (key, _) in rates {
            if let Some(rate) = rate_mut(&mut s, key) {
                values.insert(format!("{key}_max"), rate.max.to_string());
                values.insert(format!("{key}_per"), rate.per_secs.to_string());
            }
        }
    }
    values.insert("default_region".into(), region.to_owned());
    values.insert("allowed_origins".into(), s.allowed_origins.join("\n"));
    if s.allow_self_registration {
        values.insert("allow_self_registration".into(), "on".into());
    }
    values
}

/// Reads the form over the current settings; the core validates bounds.
fn parse(values: &HashMap<String, String>, current: &TenantSettings) -> AppResult<TenantSettings> {
    let mut s = current.clone();
    let whole = |key: &str, label: &str| -> AppResult<u32> {
        let raw = values.get(key).map_or("", |v| v.trim());
        raw.parse()
            .map_err(|_| AppError::validation(format!("{label}: enter a whole number")))
    };
    for (_, numbers, rates) in GROUPS {
        for (key, label, _) in numbers {
            let n = whole(key, label)?;
            match *key {
                "otp_max_attempts" => {
                    s.otp_max_attempts = u8::try_from(n)
                        .map_err(|_| AppError::validation(format!("{label}: must be 1-10")))?;
                }
                _ => {
                    if let Some(slot) = number_mut(&mut s, key) {
                        *slot = n;
                    }
                }
            }
        }
        for (key, label) in rates {
            let rate = Rate::new(
                whole(&format!("{key}_max"), label)?,
                whole(&format!("{key}_per"), label)?,
            );
            if let Some(slot) = rate_mut(&mut s, key) {
                *slot = rate;
            }
        }
    }
    s.allow_self_registration = values.contains_key("allow_self_registration");
    // One per line (commas and spaces separate too); the core checks each.
    s.allowed_origins = values
        .get("allowed_origins")
        .map_or("", String::as_str)
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(s)
}

/// A whole-number field as the template shows it.
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub bounds: &'static str,
    pub value: String,
}

/// A rate field: at most `max` per `per` seconds.
pub struct RateField {
    pub key: &'static str,
    pub label: &'static str,
    pub max: String,
    pub per: String,
}

pub struct Group {
    pub title: &'static str,
    pub fields: Vec<Field>,
    pub rates: Vec<RateField>,
}

pub(super) fn groups(values: &HashMap<String, String>) -> Vec<Group> {
    let get = |key: &str| values.get(key).cloned().unwrap_or_default();
    GROUPS
        .iter()
        .map(|(title, numbers, rates)| Group {
            title,
            fields: numbers
                .iter()
                .map(|(key, label, bounds)| Field {
                    key,
                    label,
                    bounds,
                    value: get(key),
                })
                .collect(),
            rates: rates
                .iter()
                .map(|(key, label)| RateField {
                    key,
                    label,
                    max: get(&format!("{key}_max")),
                    per: get(&format!("{key}_per")),
                })
                .collect(),
        })
        .collect()
}

#[handler]
pub async fn update(
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let outcome = async {
        let values: HashMap<String, String> = form.into_iter().collect();
        let viewer = writer(
            state,
            req,
            values.get("_csrf").map(String::as_str),
            "settings",
        )
        .await?;
        let result = async {
            let tenant = viewer.actor.tenant()?;
            let current = state.core.settings_of(tenant).await?;
            let settings = parse(&values, &current)?;
            let region = Region::parse(values.get("default_region").map_or("", String::as_str))?;
            state
                .core
                .update_settings(&viewer.actor, settings, Some(region))
                .await
        }
        .await;
        match result {
            Ok(_) => see_other("/console/settings?done=saved"),
            Err(err) => {
                let r = Render {
                    problem: Some(("settings", problem(err)?)),
                    values: Some(values),
                    ..Render::default()
                };
                invalid(render(state, &viewer, r).await)
            }
        }
    }
    .await;
    finish(req, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_back_what_it_shows() {
        let settings = TenantSettings {
            ring_timeout_secs: 42,
            calls_per_participant: Rate::new(7, 600),
            otp_max_attempts: 3,
            allow_self_registration: false,
            allowed_origins: vec!["https://app.example".into(), "http://localhost:3000".into()],
            ..TenantSettings::default()
        };
        let values = values_of(&settings, "IN");
        assert_eq!(
            parse(&values, &TenantSettings::default()).unwrap(),
            settings
        );
    }

    #[test]
    fn a_field_that_is_not_a_number_is_refused() {
        let mut values = values_of(&TenantSettings::default(), "IN");
        values.insert("ring_timeout".into(), "soon".into());
        assert!(parse(&values, &TenantSettings::default()).is_err());
    }
}
