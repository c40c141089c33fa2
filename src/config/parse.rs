//! Parsing of single settings: keys, the CORS list, numbers and durations.

use std::time::Duration;

use anyhow::bail;

use super::CorsOrigins;
use crate::domain::values::Origin;

/// A 32-byte key from 64 hex characters.
pub fn parse_key(hex: &str) -> anyhow::Result<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        bail!("expected 64 hex characters");
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| anyhow::anyhow!("expected 64 hex characters"))?;
    }
    Ok(key)
}

/// `*` (or unset) allows any origin; otherwise a comma-separated list of
/// origins, each `http(s)://host[:port]` exactly as browsers send it. An
/// empty list is refused: poem would read it as "any origin".
pub(super) fn parse_cors(raw: Option<&str>) -> anyhow::Result<CorsOrigins> {
    let Some(list) = raw.map(str::trim) else {
        return Ok(CorsOrigins::Any);
    };
    let entries: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    if entries.contains(&"*") {
        return Ok(CorsOrigins::Any);
    }
    if entries.is_empty() {
        bail!("SAMVAD_CORS_ORIGINS lists no origin; give `*` or origins like https://app.example");
    }
    let origins = entries
        .into_iter()
        .map(|entry| {
            Origin::parse(entry)
                .map(Origin::into_inner)
                .map_err(|err| anyhow::anyhow!("SAMVAD_CORS_ORIGINS: {err}"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(CorsOrigins::List(origins))
}

pub(super) fn number<T: std::str::FromStr + PartialEq + Default>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
) -> anyhow::Result<T> {
    match get(key) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .ok()
            .filter(|n: &T| *n != T::default())
            .ok_or_else(|| anyhow::anyhow!("{key} must be a positive whole number, not `{raw}`")),
    }
}

pub(super) fn secs(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: u64,
) -> anyhow::Result<Duration> {
    number(get, key, default).map(Duration::from_secs)
}

/// The webhook retry waits: seconds, comma-separated; the default when unset.
pub(super) fn retry_schedule(raw: Option<&str>) -> anyhow::Result<Vec<Duration>> {
    const DEFAULT: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 86400];
    let Some(raw) = raw else {
        return Ok(DEFAULT.iter().map(|s| Duration::from_secs(*s)).collect());
    };
    raw.split(',')
        .map(|part| {
            part.trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "SAMVAD_WEBHOOK_RETRY_SCHEDULE must be positive seconds separated by commas, not `{raw}`"
                    )
                })
        })
        .collect()
}
