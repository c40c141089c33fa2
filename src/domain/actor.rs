//! Who acts: the roles of the policy and the authenticated [`Actor`] that
//! core use cases take for their rules and the audit log.

use super::{ApiKeyId, ParticipantId, SessionId, TenantId, participant::ParticipantType};
use crate::error::{AppError, AppResult};

/// The roles of the policy: the three participant types, the platform's
/// superadmin, and API keys (which act through their scopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Astrologer,
    Admin,
    Superadmin,
    ApiKey,
}

super::text_enum!(Role {
    User => "user",
    Astrologer => "astrologer",
    Admin => "admin",
    Superadmin => "superadmin",
    ApiKey => "apikey",
});

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        Self::from_str_opt(raw)
    }
}

impl From<ParticipantType> for Role {
    fn from(kind: ParticipantType) -> Self {
        match kind {
            ParticipantType::User => Self::User,
            ParticipantType::Astrologer => Self::Astrologer,
            ParticipantType::Admin => Self::Admin,
        }
    }
}

/// What an API key may do; in the policy each scope is the role `key:<scope>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Calls,
    Admin,
}

super::text_enum!(Scope { Read => "read", Write => "write", Calls => "calls", Admin => "admin" });

impl Scope {
    /// The casbin subject of this scope.
    pub fn policy_role(self) -> &'static str {
        match self {
            Self::Read => "key:read",
            Self::Write => "key:write",
            Self::Calls => "key:calls",
            Self::Admin => "key:admin",
        }
    }

    /// Parses a list like `read, write`; empty and unknown scopes are refused.
    pub fn parse_list<'a>(raw: impl IntoIterator<Item = &'a str>) -> AppResult<Vec<Self>> {
        let mut scopes = raw
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                Self::from_str_opt(s).ok_or_else(|| {
                    AppError::validation(format!(
                        "scope must be read, write, calls or admin, not `{s}`"
                    ))
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(AppError::validation("give at least one scope"));
        }
        Ok(scopes)
    }
}

/// How the actor proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A logged-in device session (access token).
    Session(SessionId),
    /// A tenant's API key, with its scopes.
    ApiKey { key: ApiKeyId, scopes: Vec<Scope> },
}

/// Who is acting: a participant of a tenant, the superadmin, or an API key.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The tenant; `None` for the superadmin.
    pub tenant: Option<TenantId>,
    /// The participant, superadmin or API key id.
    pub id: uuid::Uuid,
    pub role: Role,
    pub credential: Credential,
    /// The client address, for the audit log.
    pub ip: Option<String>,
}

impl Actor {
    /// The actor's tenant; the superadmin has none and is refused here.
    pub fn tenant(&self) -> AppResult<TenantId> {
        self.tenant
            .ok_or_else(|| AppError::forbidden("this action needs a tenant participant's token"))
    }

    /// The actor as a participant of its tenant; API keys and the
    /// superadmin are not participants.
    pub fn participant(&self) -> AppResult<(TenantId, ParticipantId)> {
        match self.role {
            Role::User | Role::Astrologer | Role::Admin => {
                Ok((self.tenant()?, ParticipantId(self.id)))
            }
            Role::ApiKey => Err(AppError::forbidden(
                "this action needs a participant's token, not an API key",
            )),
            Role::Superadmin => Err(AppError::forbidden(
                "this action needs a tenant participant's token",
            )),
        }
    }

    /// The session the actor logged in with; API keys have none.
    pub fn session(&self) -> AppResult<SessionId> {
        match &self.credential {
            Credential::Session(session) => Ok(*session),
            Credential::ApiKey { .. } => Err(AppError::forbidden("API keys have no session")),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The participant type the actor acts as: `None` for the superadmin
    /// and API keys.
    pub fn participant_type(&self) -> Option<ParticipantType> {
        ParticipantType::from_str_opt(self.role.as_str())
    }

    /// Whether the actor sees every participant with contact details:
    /// tenant admins, and the tenant's own integrations (API keys).
    pub fn sees_everyone(&self) -> bool {
        matches!(self.role, Role::Admin | Role::ApiKey)
    }

    /// The casbin subjects the actor acts as: its role, or for an API key
    /// the roles of its scopes (allowed when any of them is).
    pub fn subjects(&self) -> Vec<&'static str> {
        match &self.credential {
            Credential::ApiKey { scopes, .. } => scopes.iter().map(|s| s.policy_role()).collect(),
            Credential::Session(_) => vec![self.role.as_str()],
        }
    }

    /// Refuses anyone but the platform superadmin (tenant management). The
    /// policy says so too; this holds even if a tenant's rules were wrong.
    pub fn require_superadmin(&self) -> AppResult<()> {
        if self.role == Role::Superadmin && self.tenant.is_none() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "only the platform superadmin manages tenants",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_actor(scopes: Vec<Scope>) -> Actor {
        Actor {
            tenant: Some(TenantId::new()),
            id: uuid::Uuid::now_v7(),
            role: Role::ApiKey,
            credential: Credential::ApiKey {
                key: ApiKeyId::new(),
                scopes,
            },
            ip: None,
        }
    }

    #[test]
    fn api_keys_act_through_their_scopes_and_are_no_participant() {
        let key = key_actor(vec![Scope::Read, Scope::Admin]);
        assert_eq!(key.subjects(), ["key:read", "key:admin"]);
        assert!(key.participant().is_err());
        assert!(key.session().is_err());
        assert!(key.sees_everyone());
    }

    #[test]
    fn scope_lists_are_validated_sorted_and_deduplicated() {
        assert_eq!(
            Scope::parse_list(["write", " read", "write"]).unwrap(),
            vec![Scope::Read, Scope::Write]
        );
        assert!(Scope::parse_list(["root"]).is_err());
        assert!(Scope::parse_list([" "]).is_err());
    }
}
