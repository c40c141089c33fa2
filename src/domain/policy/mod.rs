//! The casbin rules of each tenant, stored in MySQL. The enforcer in
//! `auth::policy` loads them; edits go through the core, which validates
//! them, writes the audit log and publishes `PolicyChanged` so every
//! enforcer reloads that tenant's rules before the next request. Types and
//! SQL here; the use cases in `service`.

mod service;

use sqlx::{MySqlConnection, Row};

use super::TenantId;
use crate::{
    db::Pool,
    error::{AppError, AppResult},
};

/// The default policy file seeded into every new tenant.
pub const DEFAULT_POLICY: &str = include_str!("../../auth/default_policy.csv");

/// Roles a tenant's rules may name: the participant types, and the scopes
/// of API keys (a key acts with the roles of its scopes).
pub const ROLES: [&str; 7] = [
    "user",
    "astrologer",
    "admin",
    "key:read",
    "key:write",
    "key:calls",
    "key:admin",
];
/// Objects a rule may grant, with what they cover.
pub const OBJECTS: [(&str, &str); 12] = [
    ("participants", "manage accounts of the tenant (admin API)"),
    (
        "directory",
        "list and read participants (the seeds' /api/users)",
    ),
    ("profile", "read and edit one's own profile"),
    ("policies", "read and edit these rules"),
    ("audit", "read the audit log"),
    ("settings", "read and change the tenant's settings"),
    ("api_keys", "create, list and revoke API keys"),
    (
        "conversations",
        "read and send in one's conversations (who with: the relationship rules)",
    ),
    ("groups", "create group conversations"),
    (
        "consultations",
        "record (write) and read consultations, the user-astrologer relationship",
    ),
    ("chat_requests", "ask (write) and answer chat requests"),
    (
        "calls",
        "place and answer calls (write), read call history (who with: the relationship rules)",
    ),
];
/// Actions of a rule.
pub const ACTIONS: [&str; 2] = ["read", "write"];

/// One `p` rule of a tenant: `role` may `action` on `object`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    pub role: String,
    pub object: String,
    pub action: String,
}

impl Rule {
    /// Validates a rule against the catalog above.
    pub fn parse(role: &str, object: &str, action: &str) -> AppResult<Self> {
        let (role, object, action) = (role.trim(), object.trim(), action.trim());
        if !ROLES.contains(&role) {
            return Err(AppError::validation(format!(
                "role must be one of {}, not `{role}`",
                ROLES.join(", ")
            )));
        }
        if !OBJECTS.iter().any(|(name, _)| *name == object) {
            let names: Vec<&str> = OBJECTS.iter().map(|(name, _)| *name).collect();
            return Err(AppError::validation(format!(
                "object must be one of {}, not `{object}`",
                names.join(", ")
            )));
        }
        if !ACTIONS.contains(&action) {
            return Err(AppError::validation(format!(
                "action must be read or write, not `{action}`"
            )));
        }
        Ok(Self {
            role: role.into(),
            object: object.into(),
            action: action.into(),
        })
    }

    /// The rule without which an admin could lock every admin out.
    fn is_lockout_guard(&self) -> bool {
        self.role == "admin" && self.object == "policies" && self.action == "write"
    }
}

/// The rules of the default policy file.
pub fn default_rules() -> Vec<Rule> {
    DEFAULT_POLICY
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            match fields.as_slice() {
                ["p", role, object, action] => {
                    Rule::parse(role, object, action).expect("default policy rules are valid")
                }
                _ => panic!("default policy line `{line}` is not `p, role, object, action`"),
            }
        })
        .collect()
}

/// A stored casbin line: ptype and its values, as casbin wants them.
pub type StoredRule = (String, Vec<String>);

/// Inserts a rule; false when the tenant already had it.
async fn insert(conn: &mut MySqlConnection, tenant: TenantId, rule: &Rule) -> AppResult<bool> {
    let done = sqlx::query(
        "INSERT IGNORE INTO casbin_rules (tenant_id, ptype, v0, v1, v2, v3) VALUES (?, 'p', ?, ?, ?, ?)",
    )
    .bind(tenant)
    .bind(&rule.role)
    .bind(tenant.to_string())
    .bind(&rule.object)
    .bind(&rule.action)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn delete(conn: &mut MySqlConnection, tenant: TenantId, rule: &Rule) -> AppResult<bool> {
    let done = sqlx::query(
        "DELETE FROM casbin_rules
         WHERE tenant_id = ? AND ptype = 'p' AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ?",
    )
    .bind(tenant)
    .bind(&rule.role)
    .bind(tenant.to_string())
    .bind(&rule.object)
    .bind(&rule.action)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Seeds the default policy file into a new tenant.
pub async fn seed_defaults(conn: &mut MySqlConnection, tenant: TenantId) -> AppResult<()> {
    for rule in default_rules() {
        insert(conn, tenant, &rule).await?;
    }
    Ok(())
}

fn stored(row: &sqlx::mysql::MySqlRow) -> Result<StoredRule, sqlx::Error> {
    let ptype: String = row.try_get("ptype")?;
    let mut values = Vec::with_capacity(6);
    for column in ["v0", "v1", "v2", "v3", "v4", "v5"] {
        values.push(row.try_get::<String, _>(column)?);
    }
    while values.last().is_some_and(String::is_empty) {
        values.pop();
    }
    Ok((ptype, values))
}

/// Every tenant's rules, for the enforcer's initial load.
pub async fn load_all(conn: &mut MySqlConnection) -> AppResult<Vec<StoredRule>> {
    let rows = sqlx::query("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rules")
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(stored).collect::<Result<_, _>>()?)
}

/// One tenant's rules, for reloading that tenant only.
pub async fn load_tenant(
    conn: &mut MySqlConnection,
    tenant: TenantId,
) -> AppResult<Vec<StoredRule>> {
    let rows =
        sqlx::query("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rules WHERE tenant_id = ?")
            .bind(tenant)
            .fetch_all(conn)
            .await?;
    Ok(rows.iter().map(stored).collect::<Result<_, _>>()?)
}

/// Reads the stored rules for the enforcer (`auth::policy`), which must
/// not hold the core: it listens on the core's bus, and the bus lives in
/// the core. Get one from [`Core::policy_reader`](super::Core::policy_reader).
#[derive(Clone)]
pub struct RuleReader {
    pool: Pool,
}

impl RuleReader {
    /// Every stored rule of every tenant.
    pub async fn all(&self) -> AppResult<Vec<StoredRule>> {
        load_all(&mut *self.pool.acquire().await?).await
    }

    /// One tenant's stored rules.
    pub async fn of_tenant(&self, tenant: TenantId) -> AppResult<Vec<StoredRule>> {
        load_tenant(&mut *self.pool.acquire().await?, tenant).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_file_parses() {
        let rules = default_rules();
        assert!(rules.iter().any(|r| r.is_lockout_guard()));
        assert!(rules.iter().all(|r| ROLES.contains(&r.role.as_str())));
    }

    #[test]
    fn rules_outside_the_catalog_are_rejected() {
        assert!(Rule::parse("superadmin", "tenants", "write").is_err());
        assert!(Rule::parse("user", "participants", "delete").is_err());
        assert!(Rule::parse("user", "secrets", "read").is_err());
        assert!(Rule::parse(" user ", "profile", "read").is_ok());
    }
}
