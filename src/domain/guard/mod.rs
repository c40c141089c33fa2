//! The off-platform contact guard (issue 17). A marketplace loses the
//! consultation when a user and an astrologer move to a phone call or a
//! messaging app, so a tenant may stop its users and astrologers from
//! trading contact details in their conversations: phone numbers, email
//! addresses, links, and handles or app names (WhatsApp, Telegram, an
//! `@name`), plus patterns of its own. A text or caption that has one is
//! refused with a clear error (`block`), or delivered with each match
//! replaced by `•••` (`mask`); either way it is counted and flagged for
//! the tenant's admins (`contact_flags`, the console's Moderation page).
//!
//! The rules live in the tenant's settings (`contactGuard`); they are
//! compiled once per settings value ([`GuardRules::compiled`]). The
//! message writer applies them in the transaction that appends the message
//! (only there is the conversation's type known without another read);
//! edits apply them too. Admins' messages and other conversation types are
//! never touched.

mod flags;

pub use flags::{Flag, Hit, NewFlag, record};

use std::sync::{Arc, OnceLock};

use crate::error::{AppError, AppResult};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// What a match leaves in a masked message.
pub const MASK: &str = "•••";
/// Most patterns of its own a tenant may add.
pub const MAX_PATTERNS: usize = 20;
/// Longest pattern, in characters.
const MAX_PATTERN_CHARS: usize = 200;

/// What the guard does with a message that has contact details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// Nothing (the default).
    #[default]
    Off,
    /// Delivered with each match replaced by [`MASK`].
    Mask,
    /// Refused (422 `contact_details`).
    Block,
}

super::text_enum!(GuardMode {
    Off => "off",
    Mask => "mask",
    Block => "block",
});

/// A tenant's rules: the mode, which built-in kinds it looks for, and
/// patterns of its own (regular expressions, case-insensitive).
#[derive(Debug, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GuardRules {
    pub mode: GuardMode,
    pub phones: bool,
    pub emails: bool,
    pub links: bool,
    /// `@name` handles and the names of messaging apps.
    pub handles: bool,
    pub patterns: Vec<String>,
    #[serde(skip)]
    compiled: OnceLock<Arc<Guard>>,
}

impl Default for GuardRules {
    fn default() -> Self {
        Self {
            mode: GuardMode::Off,
            phones: true,
            emails: true,
            links: true,
            handles: true,
            patterns: Vec::new(),
            compiled: OnceLock::new(),
        }
    }
}

/// A copy compiles its own guard when first used (so a changed copy never
/// keeps the original's).
impl Clone for GuardRules {
    fn clone(&self) -> Self {
        Self {
            mode: self.mode,
            phones: self.phones,
            emails: self.emails,
            links: self.links,
            handles: self.handles,
            patterns: self.patterns.clone(),
            compiled: OnceLock::new(),
        }
    }
}

impl PartialEq for GuardRules {
    fn eq(&self, other: &Self) -> bool {
        (
            self.mode,
            self.phones,
            self.emails,
            self.links,
            self.handles,
            &self.patterns,
        ) == (
            other.mode,
            other.phones,
            other.emails,
            other.links,
            other.handles,
            &other.patterns,
        )
    }
}

impl GuardRules {
    /// Refuses patterns that do not compile, or are too many or too long.
    pub fn validate(&self) -> AppResult<()> {
        if self.patterns.len() > MAX_PATTERNS {
            return Err(AppError::validation(format!(
                "contactGuard.patterns: at most {MAX_PATTERNS}"
            )));
        }
        for p in &self.patterns {
            if p.trim().is_empty() || p.chars().count() > MAX_PATTERN_CHARS {
                return Err(AppError::validation(format!(
                    "contactGuard.patterns: each 1-{MAX_PATTERN_CHARS} characters"
                )));
            }
            custom(p).map_err(|err| {
                AppError::validation(format!("contactGuard.patterns: `{p}` is not valid: {err}"))
            })?;
        }
        Ok(())
    }

    /// The compiled guard, when the mode is not `off`.
    pub fn compiled(&self) -> Option<Arc<Guard>> {
        if self.mode == GuardMode::Off {
            return None;
        }
        Some(
            self.compiled
                .get_or_init(|| Arc::new(Guard::new(self)))
                .clone(),
        )
    }
}

/// What a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GuardKind {
    Phone,
    Email,
    Link,
    Handle,
    Pattern,
}

super::text_enum!(GuardKind {
    Phone => "phone",
    Email => "email",
    Link => "link",
    Handle => "handle",
    Pattern => "pattern",
});

/// The rules, compiled.
#[derive(Debug)]
pub struct Guard {
    pub mode: GuardMode,
    matchers: Vec<(GuardKind, Regex)>,
    dates: Regex,
}

/// Built-in patterns. A phone number is ten or more digits, separators
/// allowed between them (so dates and times are not numbers); links are
/// schemes, `www.` or a name under a common top-level domain (`wa.me`,
/// `t.me` included); emails may be spelt out ("name at gmail dot com").
const PHONE: &str = r"\+?(?:\d[\s\-.()]{0,3}){9,}\d";
const EMAIL: &str = r"(?i)[a-z0-9._%+\-]+\s*(?:@|\(at\)|\[at\]|\s+at\s+)\s*[a-z0-9\-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*[a-z0-9\-]+)*\s*(?:\.|\(dot\)|\[dot\]|\s+dot\s+)\s*(?:com|in|net|org|co|io|me|info|biz|edu|gov|uk|us)\b";
const LINK: &str = r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:com|in|net|org|io|me|co|app|link|ly|info|biz|xyz|to|gg|site|online)\b(?:/\S*)?";
const HANDLE: &str = r"(?i)(?:^|[^a-z0-9_.@])@[a-z0-9_.]{3,}|\b(?:whats\s*app|watsapp|telegram|insta(?:gram)?|snap\s*chat|skype|we\s*chat|viber|facebook)\b";
/// Dates and times, which are not phone numbers however many digits they
/// hold together ("born 12-05-1990 06:10"): hidden from the phone pattern.
const DATE_OR_TIME: &str =
    r"\b\d{1,4}[-./]\d{1,2}[-./]\d{1,4}\b|\b\d{1,2}[:.]\d{2}\b(?:\s*[ap]\.?m\.?)?";

fn custom(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

impl Guard {
    fn new(rules: &GuardRules) -> Self {
        let builtin = |kind, on: bool, pattern: &str| {
            on.then(|| {
                (
                    kind,
                    Regex::new(pattern).expect("built-in patterns compile"),
                )
            })
        };
        let mut matchers: Vec<(GuardKind, Regex)> = [
            // Emails before links: an address holds a domain.
            builtin(GuardKind::Email, rules.emails, EMAIL),
            builtin(GuardKind::Phone, rules.phones, PHONE),
            builtin(GuardKind::Link, rules.links, LINK),
            builtin(GuardKind::Handle, rules.handles, HANDLE),
        ]
        .into_iter()
        .flatten()
        .collect();
        // Validated when saved; one that fails now is skipped.
        matchers.extend(
            rules
                .patterns
                .iter()
                .filter_map(|p| custom(p).ok())
                .map(|r| (GuardKind::Pattern, r)),
        );
        Self {
            mode: rules.mode,
            matchers,
            dates: Regex::new(DATE_OR_TIME).expect("built-in patterns compile"),
        }
    }

    /// The spans of `text` that `kind`'s pattern `r` finds; phones are
    /// looked for with dates and times blanked out (same byte lengths, so
    /// the spans are the text's).
    fn spans(&self, kind: GuardKind, r: &Regex, text: &str) -> Vec<std::ops::Range<usize>> {
        if kind != GuardKind::Phone {
            return r.find_iter(text).map(|m| m.range()).collect();
        }
        let blanked = self
            .dates
            .replace_all(text, |c: &regex::Captures<'_>| "x".repeat(c[0].len()));
        r.find_iter(&blanked).map(|m| m.range()).collect()
    }

    /// The kinds of contact details in `text` (none: it passes).
    pub fn scan(&self, text: &str) -> Vec<GuardKind> {
        let mut found: Vec<GuardKind> = self
            .matchers
            .iter()
            .filter(|(k, r)| !self.spans(*k, r, text).is_empty())
            .map(|(k, _)| *k)
            .collect();
        found.dedup();
        found
    }

    /// `text` with every match replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (kind, r) in &self.matchers {
            // From the end, so earlier spans stay where they are.
            for span in self.spans(*kind, r, &out).into_iter().rev() {
                out.replace_range(span, MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(mode: GuardMode) -> Arc<Guard> {
        GuardRules {
            mode,
            patterns: vec![r"\bpaytm\b".into()],
            ..GuardRules::default()
        }
        .compiled()
        .unwrap()
    }

    #[test]
    fn contact_details_are_found_and_ordinary_chat_is_not() {
        let g = guard(GuardMode::Block);
        for (text, kind) in [
            ("call me on 98765 43210", GuardKind::Phone),
            ("+91-98765-43210 anytime", GuardKind::Phone),
            ("my number is 9 8 7 6 5 4 3 2 1 0", GuardKind::Phone),
            ("born 12-05-1990, call 9876543210", GuardKind::Phone),
            ("mail me: uma.k@gmail.com", GuardKind::Email),
            ("uma dot k at gmail dot com", GuardKind::Email),
            ("see https://example.org/me", GuardKind::Link),
            ("wa.me/919876543210", GuardKind::Link),
            ("find me on insta @uma_stars", GuardKind::Handle),
            ("message me on WhatsApp", GuardKind::Handle),
            ("pay on Paytm instead", GuardKind::Pattern),
        ] {
            assert!(g.scan(text).contains(&kind), "{text}: {:?}", g.scan(text));
        }
        for fine in [
            "I was born on 12-05-1990 at 06:10 in Pune",
            "DOB 12-05-1990 06:10 Pune",
            "born 12.05.1990 06.10 am, Nagpur",
            "1990/05/12 18:45",
            "I will send a signal to the universe",
            "My rashi is Mesha, what about 2026?",
            "Thank you so much, namaste",
            "Is Saturn in the 7th house a problem?",
        ] {
            assert!(g.scan(fine).is_empty(), "{fine}: {:?}", g.scan(fine));
        }
    }

    #[test]
    fn masking_replaces_every_match() {
        let g = guard(GuardMode::Mask);
        let masked = g.mask("call 9876543210 or write to a@b.com, ok?");
        assert_eq!(masked, format!("call {MASK} or write to {MASK}, ok?"));
        assert!(g.scan(&masked).is_empty());
    }

    #[test]
    fn off_compiles_nothing_and_bad_patterns_are_refused() {
        assert!(GuardRules::default().compiled().is_none());
        let bad = GuardRules {
            patterns: vec!["(unclosed".into()],
            ..GuardRules::default()
        };
        assert!(bad.validate().is_err());
    }
}
