//! `/api/api-keys`: a tenant's keys for third parties. A key is shown once,
//! when created; send it as `X-Api-Key`. Only admins (by session) manage keys.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use super::{Reply, Tag, ok};
use crate::{
    auth::BearerAuth,
    domain::{ApiKeyId, Scope, api_key::ApiKey, values::Name},
    state::AppState,
};

#[derive(Default)]
pub struct ApiKeysApi;

#[derive(Object)]
pub struct CreateKeyRequest {
    /// What the key is for, e.g. `CRM sync`.
    pub name: String,
    /// Any of `read`, `write`, `calls`, `admin`.
    pub scopes: Vec<String>,
}

/// A key, without its secret.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct KeyView {
    pub id: uuid::Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.0,
            name: k.name,
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_by: k.created_by,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key: the only time `key` is shown.
#[derive(Object)]
pub struct CreatedKey {
    #[oai(flatten)]
    pub info: KeyView,
    /// Send as the `X-Api-Key` header. Store it now: it cannot be shown again.
    pub key: String,
}

#[OpenApi(prefix_path = "/api/api-keys", tag = "Tag::ApiKeys")]
impl ApiKeysApi {
    /// Create a key; its secret is in this response only
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        body: Json<CreateKeyRequest>,
    ) -> Reply<CreatedKey> {
        state.auth.authorize(&auth.0, "api_keys", "write").await?;
        let name = Name::parse(&body.0.name)?;
        let scopes = Scope::parse_list(body.0.scopes.iter().map(String::as_str))?;
        let (key, secret) = state.core.create_api_key(&auth.0, name, scopes).await?;
        ok(CreatedKey {
            info: key.into(),
            key: secret,
        })
    }

    /// The tenant's keys, newest first (revoked ones included)
    #[oai(path = "/", method = "get")]
    async fn list(&self, Data(state): Data<&AppState>, auth: BearerAuth) -> Reply<Vec<KeyView>> {
        state.auth.authorize(&auth.0, "api_keys", "read").await?;
        let keys = state.core.api_keys(auth.0.tenant()?).await?;
        ok(keys.into_iter().map(KeyView::from).collect())
    }

    /// Revoke a key; it stops working at once
    #[oai(path = "/:id", method = "delete")]
    async fn revoke(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<KeyView> {
        state.auth.authorize(&auth.0, "api_keys", "write").await?;
        ok(state
            .core
            .revoke_api_key(&auth.0, ApiKeyId(id.0))
            .await?
            .into())
    }
}
