//! `/api/auth/sessions`: one's device sessions, ending one or all.
//! Authentication only: one may always see and end one's own sessions.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path};

use super::{Done, Reply, Tag, done, ok};
use crate::{auth::BearerAuth, domain::SessionId, state::AppState};

#[derive(Default)]
pub struct SessionsApi;

/// One logged-in device.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct SessionView {
    pub id: uuid::Uuid,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the session was last used (within a minute or so).
    pub last_seen: chrono::DateTime<chrono::Utc>,
    /// The session of this request.
    pub current: bool,
}

#[derive(Object)]
pub struct Ended {
    /// How many sessions ended.
    pub ended: u64,
}

#[OpenApi(prefix_path = "/api/auth", tag = "Tag::Auth")]
impl SessionsApi {
    /// The logged-in devices of this account, most recently used first
    #[oai(path = "/sessions", method = "get")]
    async fn list(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<Vec<SessionView>> {
        let current = auth.0.session()?;
        let sessions = state.core.sessions_of(&auth.0).await?;
        ok(sessions
            .into_iter()
            .map(|s| SessionView {
                id: s.id.0,
                device_name: s.device_name,
                user_agent: s.user_agent,
                ip: s.ip,
                created_at: s.created_at,
                last_seen: s.last_used_at,
                current: s.id == current,
            })
            .collect())
    }

    /// End one session of this account (404 if it is not one of them)
    #[oai(path = "/sessions/:id", method = "delete")]
    async fn revoke(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .core
            .revoke_own_session(&auth.0, SessionId(id.0))
            .await?;
        done()
    }

    /// End every session of this account, this one included
    #[oai(path = "/logout-all", method = "post")]
    async fn logout_all(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<Ended> {
        ok(Ended {
            ended: state.core.logout_everywhere(&auth.0).await?,
        })
    }
}
