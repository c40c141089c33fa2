//! Tokens of the old backends, accepted while their apps are replaced.
//!
//! Backend1 (Flutter) signed `{uid}`; Backend (Electron) signed
//! `{id, sessionId}`. With `SAMVAD_LEGACY_JWT_SECRET` and
//! `SAMVAD_LEGACY_TENANT` set, such tokens are verified with that secret
//! (HS256; `exp` checked when present) and mapped to the participant whose
//! `legacyId` (case-sensitive) matches: only accounts imported from the old
//! backends, never one of ours by its own id. Each maps to one session of
//! ours (per old account and `sessionId`, or per account when the token had
//! none), so logout, logout-all, blocking and suspension apply to it
//! exactly as to a session that logged in here. Such a session ends 30
//! days (`SAMVAD_REFRESH_TOKEN_TTL`) after the token's first use, even when
//! the old token has no expiry.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::{
    config::LegacyTokens,
    domain::{Core, SessionId, session::Device},
    error::{AppError, AppResult},
};

/// Verifies old tokens and finds their sessions.
pub struct LegacyVerifier {
    key: DecodingKey,
    tenant_slug: String,
    /// Which session a token's identity maps to (the mapping never changes).
    sessions: Cache<[u8; 32], SessionId>,
}

/// What an old token says: whose it is and what identifies its session.
#[derive(Debug, PartialEq, Eq)]
struct OldClaims {
    subject: String,
    session_key: [u8; 32],
}

fn invalid() -> AppError {
    AppError::unauthorized("invalid_token", "access token is invalid")
}

fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.is_empty() && s.len() <= 64 => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl LegacyVerifier {
    pub fn new(config: &LegacyTokens) -> Self {
        Self {
            key: DecodingKey::from_secret(config.secret.expose().as_bytes()),
            tenant_slug: config.tenant.clone(),
            sessions: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    fn claims(&self, token: &str) -> AppResult<OldClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(token.trim(), &self.key, &validation)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AppError::unauthorized("token_expired", "access token expired; log in again")
                }
                _ => invalid(),
            })?;
        let claims = data.claims;
        let (subject, identity) = if let Some(uid) = claims.get("uid").and_then(text) {
            (uid.clone(), format!("uid:{uid}"))
        } else {
            let id = claims.get("id").and_then(text).ok_or_else(invalid)?;
            let session = claims.get("sessionId").and_then(text).ok_or_else(invalid)?;
            // The account is part of the key: two accounts may reuse a session id.
            (id.clone(), format!("session:{id}:{session}"))
        };
        Ok(OldClaims {
            subject,
            session_key: Sha256::digest(identity.as_bytes()).into(),
        })
    }

    /// The session an old token stands for (created on its first use).
    pub async fn session(&self, core: &Core, token: &str, device: &Device) -> AppResult<SessionId> {
        let claims = self.claims(token)?;
        if let Some(session) = self.sessions.get(&claims.session_key) {
            return Ok(session);
        }
        let tenant = core
            .tenant_by_slug(&self.tenant_slug)
            .await?
            .ok_or_else(invalid)?;
        let participant = core
            .participant_by_legacy_id(tenant.id, &claims.subject)
            .await?
            .ok_or_else(invalid)?;
        let session = core
            .legacy_session(&participant, &claims.session_key, device)
            .await?;
        self.sessions.insert(claims.session_key, session);
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::config::Secret;

    fn verifier() -> LegacyVerifier {
        LegacyVerifier::new(&LegacyTokens {
            secret: Secret::new("old-secret"),
            tenant: "demo".into(),
        })
    }

    fn sign(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn both_old_shapes_are_read() {
        let v = verifier();
        let backend1 = v
            .claims(&sign(json!({ "uid": "64f0c0ffee" }), "old-secret"))
            .unwrap();
        assert_eq!(backend1.subject, "64f0c0ffee");
        let backend = v
            .claims(&sign(
                json!({ "id": "64f0c0ffee", "sessionId": "s1" }),
                "old-secret",
            ))
            .unwrap();
        assert_eq!(backend.subject, "64f0c0ffee");
        assert_ne!(
            backend1.session_key, backend.session_key,
            "a session id gives its own session"
        );
    }

    #[test]
    fn wrong_secrets_other_shapes_and_expired_tokens_are_refused() {
        let v = verifier();
        assert!(v.claims(&sign(json!({ "uid": "x" }), "another")).is_err());
        assert!(
            v.claims(&sign(json!({ "sub": "x" }), "old-secret"))
                .is_err()
        );
        assert!(v.claims(&sign(json!({ "id": "x" }), "old-secret")).is_err());
        let expired = v
            .claims(&sign(json!({ "uid": "x", "exp": 1000 }), "old-secret"))
            .unwrap_err();
        assert_eq!(expired.code(), "token_expired");
    }
}
