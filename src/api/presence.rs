//! Who is online (`GET /api/presence`, and Backend1's `GET /presence`).

use poem::web::Data;
use poem_openapi::{OpenApi, param::Query};

use super::{Reply, Tag, ok, users::parse_ids};
use crate::{auth::BearerAuth, error::AppError, state::AppState, wire::participant::PresenceView};

#[derive(Default)]
pub struct PresenceApi;

async fn presence(
    state: &AppState,
    auth: &BearerAuth,
    ids: Option<String>,
    user_ids: Option<String>,
) -> Reply<Vec<PresenceView>> {
    state.auth.authorize(&auth.0, "directory", "read").await?;
    let raw = ids
        .or(user_ids)
        .ok_or_else(|| AppError::validation("give ids: comma-separated participant ids"))?;
    let found = state.core.presence(&auth.0, &parse_ids(&raw)?).await?;
    ok(found.iter().map(PresenceView::from).collect())
}

#[OpenApi(tag = "Tag::Users")]
impl PresenceApi {
    /// Presence of participants (`ids`, comma-separated, at most 100)
    ///
    /// Lists those the caller may see: the directory's, and anyone they
    /// share a conversation with. Others are left out.
    #[oai(path = "/api/presence", method = "get")]
    async fn presence(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        ids: Query<Option<String>>,
        /// Same as `ids`.
        #[oai(name = "userIds")]
        user_ids: Query<Option<String>>,
    ) -> Reply<Vec<PresenceView>> {
        presence(state, &auth, ids.0, user_ids.0).await
    }

    /// Same as `GET /api/presence` (Backend1's path)
    #[oai(path = "/presence", method = "get", deprecated)]
    async fn presence_alias(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        ids: Query<Option<String>>,
        #[oai(name = "userIds")] user_ids: Query<Option<String>>,
    ) -> Reply<Vec<PresenceView>> {
        presence(state, &auth, ids.0, user_ids.0).await
    }
}
