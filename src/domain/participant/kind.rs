//! The three kinds of participant.

use crate::error::{AppError, AppResult};

/// The three kinds of participant (the seeds' `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParticipantType {
    User,
    Astrologer,
    Admin,
}

crate::domain::text_enum!(ParticipantType { User => "user", Astrologer => "astrologer", Admin => "admin" });

impl ParticipantType {
    /// Every type.
    pub const ALL: [Self; 3] = [Self::User, Self::Astrologer, Self::Admin];

    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::from_str_opt(raw.trim()).ok_or_else(|| {
            AppError::validation(format!(
                "type must be user, astrologer or admin, not `{}`",
                raw.trim()
            ))
        })
    }
}
