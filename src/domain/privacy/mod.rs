//! Privacy (issue 17): what a participant may take with them (`export`),
//! how they are forgotten (`erase`), and how long each tenant keeps what
//! (`retention`, applied by `workers::retention`).

mod erase;
mod export;
mod retention;

pub use erase::ErasureRequest;
pub use export::Export;
pub use retention::Removed;

use serde::{Deserialize, Serialize};

/// Days each kind of record is kept (0: for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Retention {
    pub messages_days: u32,
    pub calls_days: u32,
    pub audit_days: u32,
}

impl Retention {
    /// Refuses more than a century (0 keeps for ever).
    pub fn validate(&self) -> crate::error::AppResult<()> {
        for (name, days) in [
            ("retention.messagesDays", self.messages_days),
            ("retention.callsDays", self.calls_days),
            ("retention.auditDays", self.audit_days),
        ] {
            if days > 36_500 {
                return Err(crate::error::AppError::validation(format!(
                    "{name} must be 0 (keep) to 36500"
                )));
            }
        }
        Ok(())
    }
}

/// What erasing a participant does to the messages they sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErasedMessages {
    /// Deleted for everyone: their place in the conversation stays, the
    /// text and files go (the default).
    #[default]
    Tombstone,
    /// Kept as they are, under "Deleted user".
    Keep,
}

crate::domain::text_enum!(ErasedMessages {
    Tombstone => "tombstone",
    Keep => "keep",
});
