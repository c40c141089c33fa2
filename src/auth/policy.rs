//! Authorization with casbin: RBAC with domains, the tenant as the domain.
//!
//! The model is `src/auth/model.conf`; each tenant's rules live in MySQL
//! (`casbin_rules`, seeded from `src/auth/default_policy.csv`). The platform's
//! own rules (the superadmin in the `platform` domain) are built in.
//!
//! Rules are edited through the core, which publishes `PolicyChanged`; the
//! [`Policy`] listens and reloads that one tenant's rules in memory before
//! the edit's request returns. Auto-save is off: the enforcer never writes.
//!
//! Changes made by another process (the CLI creating a tenant, another
//! node) are picked up two ways: a tenant never seen before is loaded on its
//! first check, and [`Policy::reload_all`] runs periodically (see `workers::upkeep`).

use std::{collections::HashSet, sync::Arc};

use casbin::{Adapter, CoreApi, DefaultModel, Enforcer, Filter, MgmtApi, Model};
use tokio::sync::RwLock;

use crate::{
    domain::{
        TenantId,
        events::{DomainEvent, Listener},
        policy::{RuleReader, StoredRule},
    },
    error::{AppError, AppResult},
};

const MODEL: &str = include_str!("model.conf");

/// The casbin domain of the platform superadmin.
pub const PLATFORM_DOMAIN: &str = "platform";

/// Built-in rules of the platform domain (not stored, not editable).
const PLATFORM_RULES: [[&str; 4]; 2] = [
    ["superadmin", PLATFORM_DOMAIN, "tenants", "read"],
    ["superadmin", PLATFORM_DOMAIN, "tenants", "write"],
];

/// A casbin adapter that reads rules from MySQL. Writes go through the core,
/// so the write half of the trait refuses.
struct MysqlAdapter {
    rules: RuleReader,
}

fn casbin_error(err: impl std::fmt::Display) -> casbin::Error {
    casbin::Error::AdapterError(casbin::error::AdapterError(err.to_string().into()))
}

fn read_only() -> casbin::Result<bool> {
    Err(casbin_error(
        "policies are edited through the core, not the enforcer",
    ))
}

fn insert_rule(model: &mut dyn Model, (ptype, values): StoredRule) {
    let section = ptype.chars().next().map(String::from).unwrap_or_default();
    model.add_policy(&section, &ptype, values);
}

#[async_trait::async_trait]
impl Adapter for MysqlAdapter {
    async fn load_policy(&mut self, model: &mut dyn Model) -> casbin::Result<()> {
        let rules = self.rules.all().await.map_err(casbin_error)?;
        for rule in rules {
            insert_rule(model, rule);
        }
        for rule in PLATFORM_RULES {
            insert_rule(
                model,
                ("p".into(), rule.iter().map(|v| (*v).to_owned()).collect()),
            );
        }
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        model: &mut dyn Model,
        _: Filter<'a>,
    ) -> casbin::Result<()> {
        self.load_policy(model).await
    }

    async fn save_policy(&mut self, _: &mut dyn Model) -> casbin::Result<()> {
        read_only().map(|_| ())
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        read_only().map(|_| ())
    }

    fn is_filtered(&self) -> bool {
        false
    }

    async fn add_policy(&mut self, _: &str, _: &str, _: Vec<String>) -> casbin::Result<bool> {
        read_only()
    }

    async fn add_policies(
        &mut self,
        _: &str,
        _: &str,
        _: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        read_only()
    }

    async fn remove_policy(&mut self, _: &str, _: &str, _: Vec<String>) -> casbin::Result<bool> {
        read_only()
    }

    async fn remove_policies(
        &mut self,
        _: &str,
        _: &str,
        _: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        read_only()
    }

    async fn remove_filtered_policy(
        &mut self,
        _: &str,
        _: &str,
        _: usize,
        _: Vec<String>,
    ) -> casbin::Result<bool> {
        read_only()
    }
}

/// The enforcer shared by all requests.
#[derive(Clone)]
pub struct Policy {
    enforcer: Arc<RwLock<Enforcer>>,
    /// Tenant domains whose rules are in memory.
    loaded: Arc<std::sync::RwLock<HashSet<String>>>,
    /// Serializes reloads, so a snapshot read earlier is never applied last.
    reloading: Arc<tokio::sync::Mutex<()>>,
    rules: RuleReader,
    /// Decisions already made, by (subject, domain, object, action): a
    /// request checks a role's rights, which change only when the rules
    /// are reloaded, and casbin's matcher costs more than the rest of a
    /// send. Emptied by every reload.
    decisions: Arc<std::sync::RwLock<Decisions>>,
}

/// The decision cache and the rules' generation it was filled from.
#[derive(Default)]
struct Decisions {
    generation: u64,
    made: std::collections::HashMap<(String, String, String, String), bool>,
}

/// Most decisions kept (subjects are roles and scopes: a few thousand at most).
const MAX_DECISIONS: usize = 100_000;

/// A new enforcer loaded with every stored rule (and the platform's).
async fn load_enforcer(rules: &RuleReader) -> casbin::Result<Enforcer> {
    let model = DefaultModel::from_str(MODEL).await?;
    let adapter = MysqlAdapter {
        rules: rules.clone(),
    };
    let mut enforcer = Enforcer::new(model, adapter).await?;
    enforcer.enable_auto_save(false);
    Ok(enforcer)
}

/// The domains that have rules in memory (`p` rules carry it second).
fn domains_of(enforcer: &Enforcer) -> HashSet<String> {
    enforcer
        .get_policy()
        .into_iter()
        .filter_map(|rule| rule.get(1).cloned())
        .collect()
}

impl Policy {
    /// Loads the model and every tenant's rules.
    pub async fn load(rules: RuleReader) -> anyhow::Result<Self> {
        let enforcer = load_enforcer(&rules).await?;
        let loaded = domains_of(&enforcer);
        Ok(Self {
            enforcer: Arc::new(RwLock::new(enforcer)),
            loaded: Arc::new(std::sync::RwLock::new(loaded)),
            reloading: Arc::default(),
            rules,
            decisions: Arc::default(),
        })
    }

    /// Replaces every rule in memory with what MySQL holds. The new rules
    /// are loaded aside and swapped in only when complete: a failed reload
    /// keeps the old rules, and checks never wait on the database.
    pub async fn reload_all(&self) -> AppResult<()> {
        let _reloading = self.reloading.lock().await;
        let fresh = load_enforcer(&self.rules)
            .await
            .map_err(|err| AppError::Internal(anyhow::anyhow!("casbin reload failed: {err}")))?;
        let domains = domains_of(&fresh);
        let mut enforcer = self.enforcer.write().await;
        self.forget_decisions();
        *enforcer = fresh;
        drop(enforcer);
        *self.loaded.write().expect("policy lock") = domains;
        Ok(())
    }

    /// Whether `subject` may `action` on `object` in `domain`. A tenant not
    /// seen yet (created by another process) is loaded first.
    pub async fn allows(
        &self,
        subject: &str,
        domain: &str,
        object: &str,
        action: &str,
    ) -> AppResult<bool> {
        let known =
            domain == PLATFORM_DOMAIN || self.loaded.read().expect("policy lock").contains(domain);
        if !known && let Ok(tenant) = domain.parse::<TenantId>() {
            self.reload_tenant(tenant).await?;
        }
        let key = (
            subject.to_owned(),
            domain.to_owned(),
            object.to_owned(),
            action.to_owned(),
        );
        let generation = {
            let decisions = self.decisions.read().expect("decision lock");
            if let Some(allowed) = decisions.made.get(&key) {
                return Ok(*allowed);
            }
            decisions.generation
        };
        let allowed = self
            .enforcer
            .read()
            .await
            .enforce((subject, domain, object, action))
            .map_err(|err| AppError::Internal(anyhow::anyhow!("casbin enforce failed: {err}")))?;
        let mut decisions = self.decisions.write().expect("decision lock");
        // A reload since the decision was made: it may be stale, keep it out.
        if decisions.generation == generation {
            if decisions.made.len() >= MAX_DECISIONS {
                decisions.made.clear();
            }
            decisions.made.insert(key, allowed);
        }
        Ok(allowed)
    }

    /// Empties the decision cache; called with the enforcer's write lock
    /// held, before its rules change.
    fn forget_decisions(&self) {
        let mut decisions = self.decisions.write().expect("decision lock");
        decisions.generation += 1;
        decisions.made.clear();
    }

    /// Replaces one tenant's rules in memory with what MySQL holds.
    pub async fn reload_tenant(&self, tenant: TenantId) -> AppResult<()> {
        let _reloading = self.reloading.lock().await;
        let rules = self.rules.of_tenant(tenant).await?;
        let domain = tenant.to_string();
        let (p, g): (Vec<StoredRule>, Vec<StoredRule>) =
            rules.into_iter().partition(|(ptype, _)| ptype == "p");
        let failed =
            |err: casbin::Error| AppError::Internal(anyhow::anyhow!("casbin reload failed: {err}"));
        let mut enforcer = self.enforcer.write().await;
        // No check runs while the write lock is held; any decision made
        // before it is forgotten, whether or not the reload completes.
        self.forget_decisions();
        enforcer
            .remove_filtered_policy(1, vec![domain.clone()])
            .await
            .map_err(failed)?;
        enforcer
            .remove_filtered_grouping_policy(2, vec![domain])
            .await
            .map_err(failed)?;
        if !p.is_empty() {
            enforcer
                .add_policies(p.into_iter().map(|(_, v)| v).collect())
                .await
                .map_err(failed)?;
        }
        if !g.is_empty() {
            enforcer
                .add_grouping_policies(g.into_iter().map(|(_, v)| v).collect())
                .await
                .map_err(failed)?;
        }
        drop(enforcer);
        self.loaded
            .write()
            .expect("policy lock")
            .insert(tenant.to_string());
        Ok(())
    }
}

#[async_trait::async_trait]
impl Listener for Policy {
    async fn on_event(&self, event: &DomainEvent) {
        if let DomainEvent::PolicyChanged { tenant } = event
            && let Err(err) = self.reload_tenant(*tenant).await
        {
            tracing::error!(%tenant, error = %err, "reloading the tenant's policy failed");
        }
    }
}
