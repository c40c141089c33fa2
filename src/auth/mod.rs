//! Authentication and authorization, shared by every front door.
//!
//! - [`jwt`]: access tokens; [`policy`]: casbin; [`sessions`]: the session
//!   cache; [`legacy`]: the old backends' tokens.
//! - [`guard`]: the poem-openapi security schemes that turn a bearer token
//!   or an API key into an [`Actor`].
//! - [`Auth`] ties them together: it authenticates (JWT + live session, the
//!   session answer cached so MySQL is asked at most once per cache period;
//!   or an API key) and authorizes (casbin, with the actor's tenant as the
//!   domain and its role, or its key's scopes, as subjects).

pub mod guard;
pub mod jwt;
pub mod legacy;
pub mod policy;
pub mod sessions;

use std::sync::Arc;

use crate::{
    config::Config,
    domain::{
        Actor, Core, Credential, Role, SessionId, TenantId,
        session::{Device, Issued, Liveness},
    },
    error::{AppError, AppResult},
};

pub use guard::{BearerAuth, Caller};

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
    sessions: Arc<sessions::SessionCache>,
    legacy: Option<Arc<legacy::LegacyVerifier>>,
    trust_proxy: bool,
}

impl Auth {
    /// Loads the policy and subscribes the caches to the core's events.
    pub async fn new(core: Core, config: &Config) -> anyhow::Result<Self> {
        let policy = policy::Policy::load(core.policy_reader()).await?;
        let auth = Self {
            core: core.clone(),
            jwt: jwt::JwtKeys::new(&config.jwt_secret, config.access_token_ttl),
            policy: policy.clone(),
            sessions: Arc::new(sessions::SessionCache::new(config.session_cache_ttl)),
            legacy: config
                .legacy_tokens
                .as_ref()
                .map(|c| Arc::new(legacy::LegacyVerifier::new(c))),
            trust_proxy: config.trust_proxy,
        };
        // The listeners must not hold the core: the bus lives in the core,
        // and a cycle would keep the pool (and its connections) alive forever.
        core.events().listen(Arc::new(policy));
        core.events().listen(auth.sessions.clone());
        Ok(auth)
    }

    /// Refuses (403 `origin_not_allowed`) a browser request, by its
    /// `Origin` header, that may not act for the actor's tenant (or, for
    /// the superadmin, the platform): see `Core::check_origin`.
    pub async fn admit_origin(&self, actor: &Actor, origin: Option<&str>) -> AppResult<()> {
        self.core.check_origin(actor.tenant, origin).await
    }

    /// Whether client addresses come from `X-Forwarded-For`.
    pub fn trust_proxy(&self) -> bool {
        self.trust_proxy
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

    /// The console's cookie token for a new session: an access token that
    /// lives `ttl` (the console session); revocation still ends it at once.
    pub fn console_token(&self, issued: &Issued, ttl: std::time::Duration) -> AppResult<String> {
        self.jwt.issue_for(
            issued.subject_id,
            issued.tenant,
            issued.role,
            issued.session,
            ttl,
        )
    }

    /// Turns an access token (ours, or an old backend's when configured)
    /// into the acting identity, or a 401 saying why.
    pub async fn authenticate(&self, token: &str, ip: Option<String>) -> AppResult<Actor> {
        let (session, claims) = match self.jwt.verify(token) {
            Ok(claims) => (SessionId(claims.sid), Some(claims)),
            Err(err) => match &self.legacy {
                Some(legacy) if err.code() == "invalid_token" => {
                    let device = Device {
                        name: None,
                        ip: ip.clone(),
                        ..Device::default()
                    };
                    (legacy.session(&self.core, token, &device).await?, None)
                }
                _ => return Err(err),
            },
        };
        let live = self
            .liveness(session)
            .await?
            .ok_or_else(|| AppError::unauthorized("session_revoked", "session not found"))?;
        if let Some(reason) = live.dead_because {
            return Err(AppError::unauthorized(reason, dead_message(reason)));
        }
        let role = Role::parse(&live.role).ok_or_else(invalid_token)?;
        if let Some(claims) = &claims {
            let matches = live.subject_id == claims.sub
                && live.tenant.map(|t| t.0) == claims.tid
                && claims.role == live.role;
            if !matches {
                return Err(invalid_token());
            }
        }
        Ok(Actor {
            tenant: live.tenant,
            id: live.subject_id,
            role,
            credential: Credential::Session(session),
            ip,
        })
    }

    /// True while `session` is usable (not revoked, expired, or in a
    /// suspended tenant). Cached like `authenticate`'s check.
    pub async fn session_is_live(&self, session: SessionId) -> AppResult<bool> {
        let live = self.liveness(session).await?;
        Ok(live.is_some_and(|l| l.dead_because.is_none()))
    }

    async fn liveness(&self, session: SessionId) -> AppResult<Option<Liveness>> {
        self.sessions
            .get_or_load(session, || self.core.session_liveness(session))
            .await
    }

    /// Turns an API key into the acting identity (its use is audited).
    pub async fn authenticate_key(
        &self,
        key: &str,
        what: &str,
        ip: Option<String>,
    ) -> AppResult<Actor> {
        let verified = self.core.use_api_key(key, what, ip.as_deref()).await?;
        Ok(Actor {
            tenant: Some(verified.tenant),
            id: verified.id.0,
            role: Role::ApiKey,
            credential: Credential::ApiKey {
                key: verified.id,
                scopes: verified.scopes,
            },
            ip,
        })
    }

    /// Refuses with 403 unless one of the actor's subjects (its role, or its
    /// key's scopes) may `action` on `object` in its tenant (or, for the
    /// superadmin, the platform).
    pub async fn authorize(&self, actor: &Actor, object: &str, action: &str) -> AppResult<()> {
        let domain = match actor.tenant {
            Some(tenant) => tenant.to_string(),
            None => policy::PLATFORM_DOMAIN.to_owned(),
        };
        for subject in actor.subjects() {
            if self.policy.allows(subject, &domain, object, action).await? {
                return Ok(());
            }
        }
        Err(AppError::forbidden(match &actor.credential {
            Credential::ApiKey { .. } => {
                format!("this API key's scopes do not allow to {action} {object}")
            }
            Credential::Session(_) => {
                format!("role `{}` may not {action} {object}", actor.role.as_str())
            }
        }))
    }

    /// Re-reads every tenant's rules from MySQL.
    pub async fn reload_policy(&self) -> AppResult<()> {
        self.policy.reload_all().await
    }

    /// Dry run: may `subject` (a role or `key:<scope>`) do `action` on
    /// `object` in `tenant`?
    pub async fn check(
        &self,
        tenant: TenantId,
        subject: &str,
        object: &str,
        action: &str,
    ) -> AppResult<bool> {
        self.policy
            .allows(subject, &tenant.to_string(), object, action)
            .await
    }
}

fn invalid_token() -> AppError {
    AppError::unauthorized("invalid_token", "access token is invalid")
}

fn dead_message(reason: &str) -> &'static str {
    match reason {
        "session_expired" => "session expired; log in again",
        "tenant_suspended" => "this tenant is suspended",
        "account_blocked" => "this account is blocked",
        _ => "session revoked; log in again",
    }
}
