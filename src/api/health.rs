//! `GET /ping` and `GET /health`: liveness for load balancers, readiness
//! with the database check, version and uptime for operators.

use poem::web::Data;
use poem_openapi::{Object, OpenApi};

use super::{Reply, Tag, ok};
use crate::{error::AppError, state::AppState};

#[derive(Default)]
pub struct HealthApi;

/// Readiness report.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Health {
    /// `ok` when every dependency answers.
    pub status: String,
    /// `ok` or `unreachable`.
    pub database: String,
    pub version: String,
    pub uptime_seconds: u64,
}

#[OpenApi(tag = "Tag::Health")]
impl HealthApi {
    /// Liveness: answers `pong` while the process serves requests
    #[oai(path = "/ping", method = "get")]
    async fn ping(&self) -> Reply<String> {
        ok("pong".to_owned())
    }

    /// Readiness: checks the database; 503 when it is unreachable
    #[oai(path = "/health", method = "get")]
    async fn health(&self, Data(state): Data<&AppState>) -> Reply<Health> {
        if !state.core.database_is_reachable().await {
            return Err(AppError::Unavailable("database unreachable".into()));
        }
        ok(Health {
            status: "ok".into(),
            database: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_seconds: state.started.elapsed().as_secs(),
        })
    }
}
