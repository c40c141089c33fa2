//! Policy use cases on [`Core`]: listing, granting and revoking a tenant's
//! rules (audited, then `PolicyChanged`), and the reader the enforcer loads
//! rules through.

use super::{Rule, RuleReader, delete, insert, load_tenant};
use crate::{
    domain::{Actor, Core, TenantId, audit, events::DomainEvent},
    error::{AppError, AppResult},
};

impl Core {
    /// A reader of the stored rules for the enforcer, which loads them at
    /// start, on `PolicyChanged` and periodically.
    pub fn policy_reader(&self) -> RuleReader {
        RuleReader {
            pool: self.pool().clone(),
        }
    }

    /// The `p` rules of the actor's tenant, sorted.
    pub async fn policy_rules(&self, tenant: TenantId) -> AppResult<Vec<Rule>> {
        let mut rules: Vec<Rule> = load_tenant(&mut *self.pool().acquire().await?, tenant)
            .await?
            .into_iter()
            .filter(|(ptype, _)| ptype == "p")
            .filter_map(|(_, v)| match v.as_slice() {
                [role, _domain, object, action] => Some(Rule {
                    role: role.clone(),
                    object: object.clone(),
                    action: action.clone(),
                }),
                _ => None,
            })
            .collect();
        rules.sort();
        Ok(rules)
    }

    /// Grants a rule in the actor's tenant. Granting an existing rule is a 409.
    pub async fn add_policy_rule(&self, actor: &Actor, rule: Rule) -> AppResult<()> {
        let tenant = actor.tenant()?;
        let mut tx = self.pool().begin().await?;
        if !insert(&mut tx, tenant, &rule).await? {
            return Err(AppError::conflict(
                "rule_exists",
                "the tenant already has this rule",
            ));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "policy.add").detail(rule_json(&rule)),
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::PolicyChanged { tenant })
            .await;
        Ok(())
    }

    /// Revokes a rule in the actor's tenant. The rule letting admins edit
    /// policies cannot be removed (it would lock every admin out).
    pub async fn remove_policy_rule(&self, actor: &Actor, rule: Rule) -> AppResult<()> {
        let tenant = actor.tenant()?;
        if rule.is_lockout_guard() {
            return Err(AppError::conflict(
                "rule_protected",
                "admins must keep `policies write`, or nobody could edit policies again",
            ));
        }
        let mut tx = self.pool().begin().await?;
        if !delete(&mut tx, tenant, &rule).await? {
            return Err(AppError::NotFound("rule"));
        }
        audit::record(
            &mut tx,
            audit::Entry::new(Some(actor), "policy.remove").detail(rule_json(&rule)),
        )
        .await?;
        tx.commit().await?;
        self.events()
            .publish(DomainEvent::PolicyChanged { tenant })
            .await;
        Ok(())
    }
}

fn rule_json(rule: &Rule) -> serde_json::Value {
    serde_json::json!({ "role": rule.role, "object": rule.object, "action": rule.action })
}
