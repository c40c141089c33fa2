//! Typed ids. Each is a UUIDv7 stored as BINARY(16); the type keeps a
//! participant id from being passed where a tenant id belongs.

use std::fmt;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            sqlx::Type, serde::Serialize, serde::Deserialize,
        )]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A tenant (brand); the casbin domain.
    TenantId
);
id_type!(
    /// A participant of a tenant: user, astrologer or admin.
    ParticipantId
);
id_type!(
    /// A platform superadmin (not a tenant participant).
    SuperadminId
);
id_type!(
    /// One device login.
    SessionId
);
id_type!(
    /// An audit log entry.
    AuditId
);
id_type!(
    /// An API key of a tenant.
    ApiKeyId
);
id_type!(
    /// A conversation (direct or group).
    ConversationId
);
id_type!(
    /// A message.
    MessageId
);
id_type!(
    /// A consultation recorded by the tenant's backend.
    ConsultationId
);
id_type!(
    /// A chat request from one participant to another.
    ChatRequestId
);
id_type!(
    /// A call between two participants.
    CallId
);
id_type!(
    /// An uploaded file (photo, voice note, video, document).
    FileId
);
