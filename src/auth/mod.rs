//! Authentication and authorization, shared by every front door.
//!
//! - [`jwt`]: access tokens; [`policy`]: casbin; [`sessions`]: the session cache.
//! - [`guard`]: the poem-openapi security scheme that turns a bearer token
//!   into an [`Actor`].
//! - [`Auth`] ties them together: it authenticates (JWT + live session, the
//!   session answer cached so MySQL is asked at most once per cache period)
//!   and authorizes (casbin, with the actor's tenant as the domain).

pub mod guard;
pub mod jwt;
pub mod policy;
pub mod sessions;

use std::time::Duration;

use crate::{
    domain::{
        Actor, Core, Role, SessionId, TenantId,
        events::{DomainEvent, Listener},
        session::Issued,
    },
    error::{AppError, AppResult},
};

pub use guard::BearerAuth;

/// A fresh access token with the refresh token of the same session.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Authentication and authorization service; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    core: Core,
    jwt: jwt::JwtKeys,
    policy: policy::Policy,
    sessions: std::sync::Arc<sessions::SessionCache>,
}

impl Auth {
    /// Loads the policy and subscribes the caches to the core's events.
    pub async fn new(
        core: Core,
        jwt: jwt::JwtKeys,
        session_cache_ttl: Duration,
    ) -> anyhow::Result<Self> {
        let policy = policy::Policy::load(core.pool().clone()).await?;
        let auth = Self {
            sessions: std::sync::Arc::new(sessions::SessionCache::new(session_cache_ttl)),
            core: core.clone(),
            jwt,
            policy: policy.clone(),
        };
        core.events().listen(std::sync::Arc::new(policy));
        core.events().listen(std::sync::Arc::new(auth.clone()));
        Ok(auth)
    }

    /// Issues the access token for a newly issued or refreshed session.
    pub fn tokens(&self, issued: Issued) -> AppResult<Tokens> {
        Ok(Tokens {
            access_token: self.jwt.issue(
                issued.subject_id,
                issued.tenant,
                issued.role,
                issued.session,
            )?,
            refresh_token: issued.refresh_token,
            expires_in: self.jwt.ttl().as_secs(),
        })
    }

    /// Turns an access token into the acting identity, or a 401 saying why.
    pub async fn authenticate(&self, token: &str, ip: Option<String>) -> AppResult<Actor> {
        let claims = self.jwt.verify(token)?;
        let session = SessionId(claims.sid);
        let live = self
            .sessions
            .get_or_load(session, || self.core.session_liveness(session))
            .await?
            .ok_or_else(|| AppError::unauthorized("session_revoked", "session not found"))?;
        if let Some(reason) = live.dead_because {
            return Err(AppError::unauthorized(reason, dead_message(reason)));
        }
        let role = Role::parse(&claims.role);
        let matches = live.subject_id == claims.sub
            && live.tenant.map(|t| t.0) == claims.tid
            && role.is_some_and(|r| r.as_str() == live.role);
        let Some(role) = role.filter(|_| matches) else {
            return Err(AppError::unauthorized(
                "invalid_token",
                "access token is invalid",
            ));
        };
        Ok(Actor {
            tenant: live.tenant,
            id: live.subject_id,
            role,
            session,
            ip,
        })
    }

    /// Refuses with 403 unless the actor's role may `action` on `object` in
    /// its tenant (or, for the superadmin, the platform).
    pub async fn authorize(&self, actor: &Actor, object: &str, action: &str) -> AppResult<()> {
        let domain = match actor.tenant {
            Some(tenant) => tenant.to_string(),
            None => policy::PLATFORM_DOMAIN.to_owned(),
        };
        if self
            .policy
            .allows(actor.role, &domain, object, action)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "role `{}` may not {action} {object}",
                actor.role.as_str()
            )))
        }
    }

    /// Re-reads every tenant's rules from MySQL.
    pub async fn reload_policy(&self) -> AppResult<()> {
        self.policy.reload_all().await
    }

    /// Dry run: may `role` do `action` on `object` in `tenant`?
    pub async fn check(
        &self,
        tenant: TenantId,
        role: Role,
        object: &str,
        action: &str,
    ) -> AppResult<bool> {
        self.policy
            .allows(role, &tenant.to_string(), object, action)
            .await
    }
}

fn dead_message(reason: &str) -> &'static str {
    match reason {
        "session_expired" => "session expired; log in again",
        "tenant_suspended" => "this tenant is suspended",
        "account_blocked" => "this account is blocked",
        _ => "session revoked; log in again",
    }
}

#[async_trait::async_trait]
impl Listener for Auth {
    async fn on_event(&self, event: &DomainEvent) {
        match *event {
            DomainEvent::SessionRevoked { session } => self.sessions.evict_session(session),
            DomainEvent::ParticipantSessionsRevoked {
                tenant,
                participant,
            } => self.sessions.evict_participant(tenant, participant),
            DomainEvent::TenantStatusChanged { tenant, .. } => self.sessions.evict_tenant(tenant),
            DomainEvent::PolicyChanged { .. } | DomainEvent::ParticipantUpdated { .. } => {}
        }
    }
}
