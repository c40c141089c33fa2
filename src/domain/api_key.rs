//! API keys: how a tenant's own systems and third parties call the API.
//!
//! A key reads `svk_{tenant}_{id}_{secret}` and is shown once, at creation;
//! only the SHA-256 of its secret is stored. A key is scoped (read, write,
//! calls, admin) and acts through the policy roles of its scopes. Every use
//! is audited.

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, Row};

use super::{
    Actor, ApiKeyId, Core, Scope, TenantId, audit, secrets, tenant::TenantStatus, values::Name,
};
use crate::error::{AppError, AppResult};

const PREFIX: &str = "svk_";

/// A key as listed (never with its secret).
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub tenant_id: TenantId,
    pub id: ApiKeyId,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key that checked out: whose it is and what it may do.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    pub tenant: TenantId,
    pub id: ApiKeyId,
    pub scopes: Vec<Scope>,
}

fn invalid_key() -> AppError {
    AppError::unauthorized("invalid_api_key", "API key is invalid or revoked")
}

/// Splits a presented key into tenant, id and secret hash.
fn parse(raw: &str) -> Option<(TenantId, ApiKeyId, Vec<u8>)> {
    let rest = raw.trim().strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(3, '_');
    let tenant = uuid::Uuid::try_parse(parts.next()?).ok()?;
    let id = uuid::Uuid::try_parse(parts.next()?).ok()?;
    let secret = parts.next().filter(|s| s.len() == secrets::LEN)?;
    Some((TenantId(tenant), ApiKeyId(id), secrets::digest(secret)))
}

fn scopes_of(stored: &str) -> Vec<Scope> {
    stored.split(',').filter_map(Scope::from_str_opt).collect()
}

fn from_row(row: &sqlx::mysql::MySqlRow) -> AppResult<ApiKey> {
    Ok(ApiKey {
        tenant_id: row.try_get("tenant_id")?,
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: scopes_of(&row.try_get::<String, _>("scopes")?),
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const COLUMNS: &str =
    "tenant_id, id, name, scopes, created_by, created_at, last_used_at, revoked_at";

async fn get(
    conn: &mut MySqlConnection,
    tenant: TenantId,
    id: ApiKeyId,
) -> AppResult<Option<ApiKey>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

impl Core {
    /// Creates a key; the returned string is the only time its secret exists.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: Name,
        scopes: Vec<Scope>,
    ) -> AppResult<(ApiKey, String)> {
        let tenant = actor.tenant()?;
        let id = ApiKeyId::new();
        let secret = secrets::random();
        let key = format!("{PREFIX}{}_{}_{secret}", tenant.0.simple(), id.0.simple());
        let stored_scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let now = super::now();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO api_keys (tenant_id, id, name, secret_hash, scopes, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant)
        .bind(id)
        .bind(name.as_str())
        .bind(secrets::digest(&secret))
        .bind(stored_scopes.join(","))
        .bind(actor.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "api_key.create")
                .target("api_key", id.0)
                .detail(serde_json::json!({ "name": name.as_str(), "scopes": stored_scopes })),
        )
        .await?;
        tx.commit().await?;
        let created = ApiKey {
            tenant_id: tenant,
            id,
            name: name.into_inner(),
            scopes,
            created_by: Some(actor.id),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        Ok((created, key))
    }

    /// The tenant's keys, newest first, revoked ones included.
    pub async fn api_keys(&self, tenant: TenantId) -> AppResult<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY id DESC"
        ))
        .bind(tenant)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Revokes a key of the actor's tenant; it stops working at once.
    pub async fn revoke_api_key(&self, actor: &Actor, id: ApiKeyId) -> AppResult<ApiKey> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?",
        )
        .bind(super::now())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(AppError::NotFound("api key"));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "api_key.revoke").target("api_key", id.0),
        )
        .await?;
        let key = get(&mut tx, tenant, id)
            .await?
            .ok_or(AppError::NotFound("api key"))?;
        tx.commit().await?;
        Ok(key)
    }

    /// Checks a presented key (live, of an active tenant) and audits its use
    /// (`what`: method and path), in one transaction.
    pub async fn use_api_key(
        &self,
        raw: &str,
        what: &str,
        ip: Option<&str>,
    ) -> AppResult<VerifiedKey> {
        let (tenant, id, presented) = parse(raw).ok_or_else(invalid_key)?;
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "SELECT k.secret_hash, k.scopes, k.revoked_at, t.status
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
             WHERE k.tenant_id = ? AND k.id = ?",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(invalid_key)?;
        let stored: Vec<u8> = row.try_get("secret_hash")?;
        let revoked: Option<DateTime<Utc>> = row.try_get("revoked_at")?;
        let status: TenantStatus = row.try_get("status")?;
        if !secrets::same(&stored, &presented) || revoked.is_some() {
            return Err(invalid_key());
        }
        if status != TenantStatus::Active {
            return Err(AppError::unauthorized(
                "tenant_suspended",
                "this tenant is suspended",
            ));
        }
        let scopes = scopes_of(&row.try_get::<String, _>("scopes")?);
        // At most once a minute, so requests with one key do not all queue
        // on its row lock.
        sqlx::query(
            "UPDATE api_keys SET last_used_at = ?
             WHERE tenant_id = ? AND id = ? AND (last_used_at IS NULL OR last_used_at < ? - INTERVAL 1 MINUTE)",
        )
        .bind(super::now())
        .bind(tenant)
        .bind(id)
        .bind(super::now())
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            audit::Entry::by(Some(tenant), Some(id.0), super::Role::ApiKey, "api_key.use")
                .ip(ip.map(str::to_owned))
                .target("api_key", id.0)
                .detail(serde_json::json!({ "request": what })),
        )
        .await?;
        tx.commit().await?;
        Ok(VerifiedKey { tenant, id, scopes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_into_tenant_id_and_secret_hash() {
        let (t, i) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let secret = "a_b".repeat(14) + "c"; // 43 characters, with underscores
        let raw = format!("svk_{}_{}_{secret}", t.simple(), i.simple());
        let (tenant, id, hashed) = parse(&raw).unwrap();
        assert_eq!((tenant.0, id.0), (t, i));
        assert_eq!(hashed, secrets::digest(&secret));
        for bad in [
            "",
            "svk_",
            "sk_x_y_z",
            &format!("svk_{}_{}_short", t.simple(), i.simple()),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
