//! Validated strings, parsed once at the edge (`Email::parse`, ...). A value
//! of one of these types is known to be well-formed everywhere else.

use std::fmt;

use crate::error::{AppError, AppResult};

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A lower-cased, syntactically valid email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);
string_value!(Email);

impl Email {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let email = raw.trim().to_lowercase();
        if email.len() > 254 || !email_address::EmailAddress::is_valid(&email) {
            return Err(AppError::validation(format!(
                "email `{}` is not a valid address",
                raw.trim()
            )));
        }
        Ok(Self(email))
    }
}

/// A phone number in E.164 form (`+919812345678`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);
string_value!(Phone);

impl Phone {
    /// Parses `raw`, reading numbers without a `+` country code as numbers of
    /// `default_region` (an ISO 3166 alpha-2 code such as `IN`).
    pub fn parse(raw: &str, default_region: &str) -> AppResult<Self> {
        let invalid =
            || AppError::validation(format!("phone `{}` is not a valid number", raw.trim()));
        let region = default_region.parse::<phonenumber::country::Id>().ok();
        let number = phonenumber::parse(region, raw.trim()).map_err(|_| invalid())?;
        if !number.is_valid() {
            return Err(invalid());
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }
}

/// An ISO 3166 alpha-2 region that phone numbers are read in (`IN`, `US`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region(String);
string_value!(Region);

impl Region {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let region = raw.trim().to_uppercase();
        if region.len() != 2 || region.parse::<phonenumber::country::Id>().is_err() {
            return Err(AppError::validation(format!(
                "defaultRegion must be an ISO 3166 two-letter region such as IN or US, not `{}`",
                raw.trim()
            )));
        }
        Ok(Self(region))
    }
}

/// A tenant slug: 2–40 of `a-z 0-9 -`, not starting or ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);
string_value!(Slug);

impl Slug {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let slug = raw.trim().to_lowercase();
        let ok = (2..=40).contains(&slug.len())
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && !slug.ends_with('-');
        if !ok {
            return Err(AppError::validation(
                "slug must be 2-40 characters of a-z, 0-9 and `-`, not starting or ending with `-`",
            ));
        }
        Ok(Self(slug))
    }
}

/// A web origin as browsers send it in `Origin`: `http(s)://host[:port]`,
/// lower-cased, without path or trailing slash, without the scheme's
/// default port, an IPv6 address in its short form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin(String);
string_value!(Origin);

impl Origin {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let origin = raw.trim().trim_end_matches('/').to_ascii_lowercase();
        Self::normalise(&origin).map(Self).ok_or_else(|| {
            AppError::validation(format!(
                "`{}` is not an origin like https://app.example or http://localhost:3000",
                raw.trim()
            ))
        })
    }

    fn normalise(origin: &str) -> Option<String> {
        if origin.len() > 260 {
            return None;
        }
        let (scheme, authority) = origin.split_once("://")?;
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port))
                if !port.contains(']') && (!host.contains(':') || host.ends_with(']')) =>
            {
                (host, Some(port))
            }
            _ => (authority, None),
        };
        let host = match host.strip_prefix('[') {
            Some(v6) => {
                let v6: std::net::Ipv6Addr = v6.strip_suffix(']')?.parse().ok()?;
                format!("[{v6}]")
            }
            None => {
                let label_ok = |label: &str| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                };
                if !host.split('.').all(label_ok) {
                    return None;
                }
                host.to_owned()
            }
        };
        let Some(digits) = port else {
            return Some(format!("{scheme}://{host}"));
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match digits.parse::<u16>().ok()? {
            0 => None,
            p if p == default_port => Some(format!("{scheme}://{host}")),
            p => Some(format!("{scheme}://{host}:{p}")),
        }
    }

    /// The origin of a URL (`https://chat.example/base` → `https://chat.example`).
    pub fn of_url(url: &str) -> Option<Self> {
        let after_scheme = url.find("://")? + 3;
        let end = url[after_scheme..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| after_scheme + i);
        Self::parse(&url[..end]).ok()
    }
}

/// A display name: trimmed, 1–120 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);
string_value!(Name);

impl Name {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(AppError::validation(
                "name must be 1-120 characters without control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }
}

/// A new password: 8–128 characters. (Existing passwords are only compared.)
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let length = raw.chars().count();
        if !(8..=128).contains(&length) {
            return Err(AppError::validation("password must be 8-128 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Trims an optional free-text field, mapping blank to `None`, and bounds it.
pub fn optional_text(
    raw: Option<&str>,
    field: &str,
    max_chars: usize,
) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > max_chars => Err(AppError::validation(format!(
            "{field} must be at most {max_chars} characters"
        ))),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// An avatar or media URL: http(s), or a path on this server (not `//host`,
/// which browsers read as another site), at most 2048 bytes.
pub fn parse_url(raw: &str, field: &str) -> AppResult<String> {
    let url = raw.trim();
    let is_path = url.starts_with('/') && !url.starts_with("//");
    let ok = url.len() <= 2048
        && (url.starts_with("https://") || url.starts_with("http://") || is_path)
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(AppError::validation(format!(
            "{field} must be an http(s) URL or a path of at most 2048 characters"
        )));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in ["", "no-at-sign", "a@", "@b.c", "a b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_become_e164_using_the_default_region() {
        assert_eq!(
            Phone::parse("098123 45678", "IN").unwrap().as_str(),
            "+919812345678"
        );
        assert_eq!(
            Phone::parse("+1 (415) 555-2671", "IN").unwrap().as_str(),
            "+14155552671"
        );
    }

    #[test]
    fn impossible_phone_numbers_are_rejected() {
        for bad in ["", "12", "not a number", "+999123"] {
            assert!(Phone::parse(bad, "IN").is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_allow_lowercase_digits_and_inner_dashes() {
        assert_eq!(
            Slug::parse("Star-Gazers9").unwrap().as_str(),
            "star-gazers9"
        );
        for bad in ["a", "-ab", "ab-", "a b", "ab_c", &"x".repeat(41)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port_lowercased() {
        for (raw, want) in [
            ("https://App.Example/", "https://app.example"),
            (" http://localhost:3000 ", "http://localhost:3000"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://[::1]:8443", "https://[::1]:8443"),
            ("https://[0:0::1]", "https://[::1]"),
            ("https://app.example:443", "https://app.example"),
            ("http://app.example:80/", "http://app.example"),
            ("http://app.example:443", "http://app.example:443"),
            ("http://localhost:03000", "http://localhost:3000"),
            ("http://my_host.local", "http://my_host.local"),
        ] {
            assert_eq!(Origin::parse(raw).unwrap().as_str(), want, "{raw}");
        }
        for bad in [
            "",
            "*",
            "app.example",
            "ftp://app.example",
            "https://",
            "https://app.example/path",
            "https://app.example:0",
            "https://app.example:99999",
            "https://*.example",
            "https://a..b",
            "https://user@app.example",
            "https://[zz]:80",
            "https://app.example?x=1",
            "https://app.example:+443",
            "https://app.example:",
            "https://::1",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
        let of = |url| Origin::of_url(url).map(Origin::into_inner);
        assert_eq!(
            of("https://Chat.example:443/base/?x").as_deref(),
            Some("https://chat.example")
        );
        assert_eq!(
            of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(of("not a url"), None);
    }

    #[test]
    fn names_must_be_visible_text() {
        assert_eq!(Name::parse("  Ravi  ").unwrap().as_str(), "Ravi");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("a\u{0}b").is_err());
        assert!(Name::parse(&"n".repeat(121)).is_err());
    }

    #[test]
    fn passwords_have_bounds_and_hide_from_debug() {
        assert!(Password::parse("short").is_err());
        let pw = Password::parse("long enough").unwrap();
        assert_eq!(format!("{pw:?}"), "Password(***)");
    }

    #[test]
    fn regions_are_known_two_letter_codes() {
        assert_eq!(Region::parse(" in ").unwrap().as_str(), "IN");
        for bad in ["", "I", "IND", "ZZ", "12"] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_or_paths() {
        assert!(parse_url("https://cdn.example/a.png", "avatar").is_ok());
        assert!(parse_url("/uploads/a.png", "avatar").is_ok());
        assert!(parse_url("javascript:alert(1)", "avatar").is_err());
        assert!(parse_url("//evil.example/x.png", "avatar").is_err());
    }
}
