//! Access tokens: HS256 JWTs carrying `sub, tid, role, sid, iat, exp`.
//! A valid signature is not enough: the guard also checks that the session
//! `sid` is still live, so logout and revocation take effect at once.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::{
    config::Secret,
    domain::{Role, SessionId, TenantId},
    error::{AppError, AppResult},
};

/// The claims of a Samvad access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Participant or superadmin id.
    pub sub: uuid::Uuid,
    /// Tenant id; absent for the superadmin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<uuid::Uuid>,
    pub role: String,
    pub sid: uuid::Uuid,
    pub iat: u64,
    pub exp: u64,
}

/// Signs and verifies access tokens with one shared secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &Secret, ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            ttl,
        }
    }

    /// Lifetime of an access token.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues an access token for a session.
    pub fn issue(
        &self,
        subject: uuid::Uuid,
        tenant: Option<TenantId>,
        role: Role,
        session: SessionId,
    ) -> AppResult<String> {
        self.issue_for(subject, tenant, role, session, self.ttl)
    }

    /// Issues a token for a session that lives `ttl` (the console's cookie).
    pub fn issue_for(
        &self,
        subject: uuid::Uuid,
        tenant: Option<TenantId>,
        role: Role,
        session: SessionId,
        ttl: Duration,
    ) -> AppResult<String> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Claims {
            sub: subject,
            tid: tenant.map(|t| t.0),
            role: role.as_str().to_owned(),
            sid: session.0,
            iat: now,
            exp: now + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|err| AppError::Internal(anyhow::anyhow!("signing a JWT failed: {err}")))
    }

    /// Verifies signature and expiry and returns the claims.
    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token.trim(), &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => {
                    AppError::unauthorized("token_expired", "access token expired; refresh it")
                }
                _ => AppError::unauthorized("invalid_token", "access token is invalid"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str, ttl: u64) -> JwtKeys {
        JwtKeys::new(&Secret::new(secret), Duration::from_secs(ttl))
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let keys = keys("a-test-secret-that-is-long-enough!!", 60);
        let (sub, tid, sid) = (uuid::Uuid::now_v7(), TenantId::new(), SessionId::new());
        let token = keys.issue(sub, Some(tid), Role::Astrologer, sid).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.tid, claims.sid),
            (sub, Some(tid.0), sid.0)
        );
        assert_eq!(claims.role, "astrologer");
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn tokens_signed_with_another_secret_are_invalid() {
        let token = keys("one-secret-one-secret-one-secret!!", 60)
            .issue(
                uuid::Uuid::now_v7(),
                None,
                Role::Superadmin,
                SessionId::new(),
            )
            .unwrap();
        let err = keys("two-secret-two-secret-two-secret!!", 60)
            .verify(&token)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_token");
    }

    #[test]
    fn expired_tokens_say_so() {
        let keys = keys("a-test-secret-that-is-long-enough!!", 60);
        let claims = Claims {
            sub: uuid::Uuid::now_v7(),
            tid: None,
            role: "admin".into(),
            sid: uuid::Uuid::now_v7(),
            iat: 1,
            exp: 2,
        };
        let token = jsonwebtoken::encode(&Header::default(), &claims, &keys.encoding).unwrap();
        assert_eq!(keys.verify(&token).unwrap_err().code(), "token_expired");
    }

    #[test]
    fn garbage_is_invalid() {
        let keys = keys("a-test-secret-that-is-long-enough!!", 60);
        for bad in ["", "abc", "a.b.c"] {
            assert_eq!(keys.verify(bad).unwrap_err().code(), "invalid_token");
        }
    }
}
