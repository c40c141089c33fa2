//! `/api/participants/*`: tenant admins manage their participants.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::MaybeUndefined,
};

use super::{PageOf, Reply, Tag, ok};
use crate::{
    auth::Caller,
    domain::{
        ParticipantId, page_limit,
        participant::{Filter, OwnProfile, ParticipantInput, ParticipantType, ProfileChanges},
        values::{Email, Name, Password, optional_text, parse_url},
    },
    error::{AppError, AppResult},
    state::AppState,
    wire::participant::ParticipantView,
};

#[derive(Default)]
pub struct ParticipantsApi;

/// A new participant of the admin's tenant.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateParticipantRequest {
    /// `user`, `astrologer` or `admin`.
    #[oai(rename = "type")]
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    /// E.164, or national format of the tenant's region.
    pub phone: Option<String>,
    /// 8-128 characters; without one the participant logs in by OTP only.
    pub password: Option<String>,
    /// The account's id in an old backend, when imported: its old tokens
    /// then work here (see the README on legacy tokens).
    pub legacy_id: Option<String>,
}

/// Changes to a participant; absent fields stay, `null` clears.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateParticipantRequest {
    pub name: MaybeUndefined<String>,
    /// Admins only (here and in the core).
    pub email: MaybeUndefined<String>,
    /// Admins only (here and in the core).
    pub phone: MaybeUndefined<String>,
    /// Same as `avatarUrl`; either spelling is accepted.
    pub avatar: MaybeUndefined<String>,
    pub avatar_url: MaybeUndefined<String>,
    /// The status line.
    pub status: MaybeUndefined<String>,
}

/// Reads `MaybeUndefined` into the core's "leave / clear / set" shape.
fn change<T>(
    value: &MaybeUndefined<String>,
    parse: impl Fn(&str) -> AppResult<Option<T>>,
) -> AppResult<Option<Option<T>>> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(v) => parse(v).map(Some),
    }
}

/// Reads name, avatar (either spelling) and status into the core's shape.
pub fn own_profile(
    name: &MaybeUndefined<String>,
    avatar: &MaybeUndefined<String>,
    avatar_url: &MaybeUndefined<String>,
    status: &MaybeUndefined<String>,
) -> AppResult<OwnProfile> {
    let name = match name {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => return Err(AppError::validation("name cannot be cleared")),
        MaybeUndefined::Value(v) => Some(Name::parse(v)?),
    };
    let avatar = if avatar_url.is_undefined() {
        avatar
    } else {
        avatar_url
    };
    Ok(OwnProfile {
        name,
        avatar_url: change(avatar, |v| {
            if v.trim().is_empty() {
                Ok(None)
            } else {
                parse_url(v, "avatar").map(Some)
            }
        })?,
        status_text: change(status, |v| optional_text(Some(v), "status", 140))?,
    })
}

impl UpdateParticipantRequest {
    /// Validates the body into core changes.
    pub fn into_changes(self) -> AppResult<ProfileChanges> {
        Ok(ProfileChanges {
            profile: own_profile(&self.name, &self.avatar, &self.avatar_url, &self.status)?,
            email: change(&self.email, |v| Email::parse(v).map(Some))?,
            phone: change(&self.phone, |v| Ok(Some(v.to_owned())))?,
        })
    }
}

#[OpenApi(prefix_path = "/api/participants", tag = "Tag::Participants")]
impl ParticipantsApi {
    /// Create a participant (admin)
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<CreateParticipantRequest>,
    ) -> Reply<ParticipantView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let body = body.0;
        let input = ParticipantInput {
            kind: ParticipantType::parse(&body.kind)?,
            name: Name::parse(&body.name)?,
            email: body.email.as_deref().map(Email::parse).transpose()?,
            phone: body.phone.filter(|p| !p.trim().is_empty()),
            password: body.password.as_deref().map(Password::parse).transpose()?,
            legacy_id: optional_text(body.legacy_id.as_deref(), "legacyId", 64)?,
        };
        let created = state
            .core
            .create_participant(Some(&auth.0), auth.0.tenant()?, input)
            .await?;
        ok(ParticipantView::from(created))
    }

    /// List participants: search, filter by type or blocked, paginate by cursor (admin)
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        /// Matches name anywhere, email or phone by prefix.
        q: Query<Option<String>>,
        /// `user`, `astrologer` or `admin`.
        #[oai(name = "type")]
        kind: Query<Option<String>>,
        blocked: Query<Option<bool>>,
        cursor: Query<Option<String>>,
        /// 1-100, default 20.
        limit: Query<Option<u32>>,
    ) -> Reply<PageOf<ParticipantView>> {
        state
            .auth
            .authorize(&auth.0, "participants", "read")
            .await?;
        let filter = Filter {
            q: q.0,
            kind: kind.0.as_deref().map(ParticipantType::parse).transpose()?,
            blocked: blocked.0,
        };
        let page = state
            .core
            .participants(
                auth.0.tenant()?,
                &filter,
                cursor.0.as_deref(),
                page_limit(limit.0),
            )
            .await?;
        ok(PageOf::from_page(page, ParticipantView::from))
    }

    /// One participant (admin)
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ParticipantView> {
        state
            .auth
            .authorize(&auth.0, "participants", "read")
            .await?;
        ok(ParticipantView::from(
            state
                .core
                .participant(auth.0.tenant()?, ParticipantId(id.0))
                .await?,
        ))
    }

    /// Update a participant's profile, email or phone (admin)
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
        body: Json<UpdateParticipantRequest>,
    ) -> Reply<ParticipantView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        let changes = body.0.into_changes()?;
        ok(ParticipantView::from(
            state
                .core
                .update_participant(&auth.0, ParticipantId(id.0), changes)
                .await?,
        ))
    }

    /// Block a participant: revokes all their sessions (admin)
    #[oai(path = "/:id/block", method = "post")]
    async fn block(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ParticipantView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        ok(ParticipantView::from(
            state
                .core
                .set_participant_blocked(&auth.0, ParticipantId(id.0), true)
                .await?,
        ))
    }

    /// Unblock a participant (admin)
    #[oai(path = "/:id/unblock", method = "post")]
    async fn unblock(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        id: Path<uuid::Uuid>,
    ) -> Reply<ParticipantView> {
        state
            .auth
            .authorize(&auth.0, "participants", "write")
            .await?;
        ok(ParticipantView::from(
            state
                .core
                .set_participant_blocked(&auth.0, ParticipantId(id.0), false)
                .await?,
        ))
    }
}
