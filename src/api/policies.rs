//! `/api/policies`: a tenant's casbin rules, edited by its admins. Changes
//! take effect on the next request (the enforcer reloads the tenant).

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use super::{Done, Reply, Tag, ok};
use crate::{
    auth::Caller,
    domain::policy::{ACTIONS, OBJECTS, ROLES, Rule},
    error::AppError,
    state::AppState,
};

#[derive(Default)]
pub struct PoliciesApi;

/// `role` may `action` (read|write) on `object`.
#[derive(Debug, Object, Clone)]
pub struct RuleView {
    pub role: String,
    pub object: String,
    pub action: String,
}

impl From<Rule> for RuleView {
    fn from(r: Rule) -> Self {
        Self {
            role: r.role,
            object: r.object,
            action: r.action,
        }
    }
}

impl RuleView {
    fn parse(&self) -> Result<Rule, AppError> {
        Rule::parse(&self.role, &self.object, &self.action)
    }
}

/// An object a rule may grant.
#[derive(Debug, Object)]
pub struct ObjectView {
    pub name: String,
    pub description: String,
}

/// The tenant's rules and what rules may name.
#[derive(Debug, Object)]
pub struct PolicySet {
    pub rules: Vec<RuleView>,
    pub roles: Vec<String>,
    pub objects: Vec<ObjectView>,
    pub actions: Vec<String>,
}

#[derive(Debug, Object)]
pub struct CheckResult {
    pub allowed: bool,
}

#[OpenApi(prefix_path = "/api/policies", tag = "Tag::Policies")]
impl PoliciesApi {
    /// The tenant's rules, with the roles, objects and actions rules may name
    #[oai(path = "/", method = "get")]
    async fn list(&self, Data(state): Data<&AppState>, auth: Caller) -> Reply<PolicySet> {
        state.auth.authorize(&auth.0, "policies", "read").await?;
        let rules = state.core.policy_rules(auth.0.tenant()?).await?;
        ok(PolicySet {
            rules: rules.into_iter().map(RuleView::from).collect(),
            roles: ROLES.iter().map(|r| (*r).to_owned()).collect(),
            objects: OBJECTS
                .iter()
                .map(|(name, description)| ObjectView {
                    name: (*name).into(),
                    description: (*description).into(),
                })
                .collect(),
            actions: ACTIONS.iter().map(|a| (*a).to_owned()).collect(),
        })
    }

    /// Grant a rule; 409 if the tenant already has it
    #[oai(path = "/", method = "post")]
    async fn add(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<RuleView>,
    ) -> Reply<RuleView> {
        state.auth.authorize(&auth.0, "policies", "write").await?;
        let rule = body.0.parse()?;
        state.core.add_policy_rule(&auth.0, rule.clone()).await?;
        ok(rule.into())
    }

    /// Revoke a rule; `admin policies write` is protected
    #[oai(path = "/", method = "delete")]
    async fn remove(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        role: Query<String>,
        object: Query<String>,
        action: Query<String>,
    ) -> Reply<Done> {
        state.auth.authorize(&auth.0, "policies", "write").await?;
        let rule = Rule::parse(&role.0, &object.0, &action.0)?;
        state.core.remove_policy_rule(&auth.0, rule).await?;
        ok(Done { done: true })
    }

    /// Dry run: may `role` do `action` on `object` under the current rules?
    #[oai(path = "/check", method = "post")]
    async fn check(
        &self,
        Data(state): Data<&AppState>,
        auth: Caller,
        body: Json<RuleView>,
    ) -> Reply<CheckResult> {
        state.auth.authorize(&auth.0, "policies", "read").await?;
        let rule = body.0.parse()?;
        let allowed = state
            .auth
            .check(auth.0.tenant()?, &rule.role, &rule.object, &rule.action)
            .await?;
        ok(CheckResult { allowed })
    }
}
