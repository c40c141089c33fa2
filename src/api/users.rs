//! The seeds' user endpoints: the tenant directory (`/api/users`, search,
//! by-ids, profiles) and one's own profile (`/api/users/profile`,
//! `PATCH /api/users/me`).

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::MaybeUndefined,
};

use super::{PageOf, Reply, Tag, ok, participants::own_profile};
use crate::{
    auth::{BearerAuth, Caller},
    domain::{
        Actor, ParticipantId, page_limit,
        participant::{Filter, ParticipantType},
    },
    error::{AppError, AppResult},
    state::AppState,
    wire::participant::ParticipantView,
};

#[derive(Default)]
pub struct UsersApi;

/// Changes to one's own profile; absent fields stay, `null` clears.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateMeRequest {
    pub name: MaybeUndefined<String>,
    /// Same as `avatarUrl`; either spelling is accepted.
    pub avatar: MaybeUndefined<String>,
    pub avatar_url: MaybeUndefined<String>,
    /// The status line (at most 140 characters).
    pub status: MaybeUndefined<String>,
}

/// Participants online now, by type (`GET /api/users/online/count`). A
/// type the caller's directory does not show is `null`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct OnlineCountView {
    /// The sum of the types shown.
    pub total: u32,
    pub user: Option<u32>,
    pub astrologer: Option<u32>,
    pub admin: Option<u32>,
}

/// At most this many ids per `by-ids` request.
const MAX_IDS: usize = 100;

pub fn parse_ids(raw: &str) -> AppResult<Vec<ParticipantId>> {
    let ids: Vec<ParticipantId> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| AppError::bad_request(format!("`{s}` is not a participant id")))
        })
        .collect::<AppResult<_>>()?;
    if ids.len() > MAX_IDS {
        return Err(AppError::validation(format!(
            "at most {MAX_IDS} ids per request"
        )));
    }
    Ok(ids)
}

async fn directory(
    state: &AppState,
    actor: &Actor,
    q: Option<String>,
    kind: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> Reply<PageOf<ParticipantView>> {
    state.auth.authorize(actor, "directory", "read").await?;
    let filter = Filter {
        q,
        kind: kind.as_deref().map(ParticipantType::parse).transpose()?,
        blocked: None,
    };
    let page = state
        .core
        .directory(actor, &filter, cursor.as_deref(), page_limit(limit))
        .await?;
    ok(PageOf::from_page(page, ParticipantView::from))
}

#[OpenApi(prefix_path = "/api/users", tag = "Tag::Users")]
impl UsersApi {
    /// The tenant directory: search and paginate
    ///
    /// Admins see every participant; others see astrologers and admins.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Matches name anywhere, email or phone by prefix.
        q: Query<Option<String>>,
        /// Same as `q` (the Electron client's name).
        search: Query<Option<String>>,
        /// `user`, `astrologer` or `admin`.
        #[oai(name = "type")]
        kind: Query<Option<String>>,
        cursor: Query<Option<String>>,
        /// 1-100, default 20.
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<ParticipantView>> {
        directory(state, &auth.0, q.0.or(search.0), kind.0, cursor.0, limit.0).await
    }

    /// Search the tenant directory
    #[oai(path = "/search", method = "get")]
    async fn search(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Matches name anywhere, email or phone by prefix.
        q: Query<Option<String>>,
        #[oai(name = "type")] kind: Query<Option<String>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<ParticipantView>> {
        directory(state, &auth.0, q.0, kind.0, cursor.0, limit.0).await
    }

    /// Participants by id (comma-separated, at most 100); unknown ids are left out
    #[oai(path = "/by-ids", method = "get")]
    async fn by_ids(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Comma-separated participant ids.
        ids: Query<String>,
    ) -> Reply<Vec<ParticipantView>> {
        state.auth.authorize(&auth.0, "directory", "read").await?;
        let ids = parse_ids(&ids.0)?;
        let found = state.core.participants_by_ids(&auth.0, &ids).await?;
        ok(found.into_iter().map(ParticipantView::from).collect())
    }

    /// How many of the tenant's participants are online now, by type
    ///
    /// Counts the types the caller's directory shows: admins and API keys
    /// see users, astrologers and admins; others astrologers and admins
    /// (the rest are `null`). Counts the connections of the node that
    /// answers, like `GET /api/presence`.
    #[oai(path = "/online/count", method = "get")]
    async fn online_count(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
    ) -> Reply<OnlineCountView> {
        state.auth.authorize(&auth.0, "directory", "read").await?;
        let counts = state.core.online_by_type(&auth.0).await?;
        let of = |kind| counts.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n);
        ok(OnlineCountView {
            total: counts.iter().map(|(_, n)| n).sum(),
            user: of(ParticipantType::User),
            astrologer: of(ParticipantType::Astrologer),
            admin: of(ParticipantType::Admin),
        })
    }

    /// The logged-in participant's own profile
    #[oai(path = "/profile", method = "get")]
    async fn my_profile(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
    ) -> Reply<ParticipantView> {
        state.auth.authorize(&auth.0, "profile", "read").await?;
        let (tenant, me) = auth.0.participant()?;
        ok(ParticipantView::from(
            state.core.participant(tenant, me).await?,
        ))
    }

    /// Another participant's profile (contact details for admins only)
    #[oai(path = "/profile/:userId", method = "get")]
    async fn profile(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        #[oai(name = "userId")] user_id: Path<uuid::Uuid>,
    ) -> Reply<ParticipantView> {
        state.auth.authorize(&auth.0, "directory", "read").await?;
        let found = state
            .core
            .visible_participant(&auth.0, ParticipantId(user_id.0))
            .await?;
        ok(ParticipantView::from(found))
    }

    /// Update one's own name, avatar (`avatar` or `avatarUrl`) and status line
    #[oai(path = "/me", method = "patch")]
    async fn update_me(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<UpdateMeRequest>,
    ) -> Reply<ParticipantView> {
        state.auth.authorize(&auth.0, "profile", "write").await?;
        let body = body.0;
        let profile = own_profile(&body.name, &body.avatar, &body.avatar_url, &body.status)?;
        ok(ParticipantView::from(
            state.core.update_own_profile(&auth.0, profile).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_are_split_trimmed_and_bounded() {
        let a = uuid::Uuid::now_v7();
        assert_eq!(
            parse_ids(&format!(" {a} ,,")).unwrap(),
            vec![ParticipantId(a)]
        );
        assert_eq!(parse_ids("not-an-id").unwrap_err().code(), "bad_request");
        let many = vec![a.to_string(); MAX_IDS + 1].join(",");
        assert_eq!(parse_ids(&many).unwrap_err().code(), "validation_failed");
    }
}
