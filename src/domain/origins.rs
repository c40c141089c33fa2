//! Which browser origins may act: a tenant's allowed origins (its
//! settings), the server's CORS list (`SAMVAD_CORS_ORIGINS`) and the
//! server's own origin; and the set of every tenant's origins that CORS
//! reads for preflights, which name no tenant.

use std::{
    collections::HashSet,
    sync::{Arc, PoisonError},
};

use sqlx::Row;

use super::{Core, TenantId, settings::TenantSettings};
use crate::error::{AppError, AppResult};

/// The server's CORS origins (`SAMVAD_CORS_ORIGINS`): any, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

impl Core {
    /// Refuses (403 `origin_not_allowed`) a browser request (`origin` is its
    /// `Origin` header) that may not act for `tenant`: when the tenant lists
    /// origins, from any other (but this server's own); when it lists none,
    /// or for the platform (no tenant), from an origin the server's CORS
    /// list does not take. So one tenant's list never opens another's door.
    /// Requests without `Origin` (apps, servers) always pass.
    pub async fn check_origin(
        &self,
        tenant: Option<TenantId>,
        origin: Option<&str>,
    ) -> AppResult<()> {
        let Some(origin) = origin else {
            return Ok(());
        };
        let listed = match tenant {
            Some(tenant) => {
                let settings = self.settings_of(tenant).await?;
                (!settings.allowed_origins.is_empty()).then(|| settings.lists_origin(origin))
            }
            None => None,
        };
        let admitted = self.is_own_origin(origin)
            || listed.unwrap_or_else(|| match &self.config().cors_origins {
                CorsOrigins::Any => true,
                CorsOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            });
        if admitted {
            return Ok(());
        }
        let origin: String = origin.chars().take(100).collect();
        Err(AppError::Forbidden {
            code: "origin_not_allowed",
            message: match tenant {
                Some(_) => format!(
                    "this tenant does not accept requests from {origin}; an admin can add it under settings, allowed origins"
                ),
                None => format!("this server does not accept requests from {origin}"),
            },
        })
    }

    /// Whether `origin` is this server's own (`SAMVAD_PUBLIC_URL`'s).
    pub fn is_own_origin(&self, origin: &str) -> bool {
        self.config()
            .own_origin
            .as_ref()
            .is_some_and(|own| own.as_str().eq_ignore_ascii_case(origin))
    }

    /// Whether some tenant lists `origin` (read by CORS; see
    /// [`Caches::known_origins`](super::Caches)).
    pub fn origin_is_known(&self, origin: &str) -> bool {
        let known = self.caches().known_origins.read();
        let known = known.unwrap_or_else(PoisonError::into_inner);
        known.contains(&origin.to_ascii_lowercase())
    }

    /// Re-reads every tenant's allowed origins into the CORS set.
    pub async fn reload_known_origins(&self) -> AppResult<()> {
        // Platform-wide on purpose: CORS must know every tenant's origins.
        let rows = sqlx::query("SELECT tenant_id, settings FROM tenant_settings")
            .fetch_all(self.pool())
            .await?;
        let mut known = HashSet::new();
        for row in rows {
            let json: String = row.try_get("settings")?;
            match serde_json::from_str::<TenantSettings>(&json) {
                Ok(settings) => known.extend(settings.allowed_origins),
                Err(err) => {
                    let tenant: TenantId = row.try_get("tenant_id")?;
                    tracing::warn!(%tenant, error = %err, "unreadable tenant settings");
                }
            }
        }
        let mut slot = self
            .caches()
            .known_origins
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Arc::new(known);
        Ok(())
    }
}
