//! Per-tenant casbin policies: listing, editing, reloading without restart.

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_new_tenant_gets_the_default_policy_file() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;

    let res = app.get("/api/policies", &admin.access).await;

    let rules = res.data()["rules"].as_array().unwrap().clone();
    let expected = samvad::domain::policy::default_rules();
    assert_eq!(rules.len(), expected.len());
    assert!(rules.contains(&json!({ "role": "user", "object": "directory", "action": "read" })));
    assert!(
        res.data()["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == json!("audit"))
    );
}

#[tokio::test]
async fn revoking_a_rule_takes_effect_on_the_next_request_and_granting_restores_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    app.get("/api/users", &user.access).await.data();

    let path = "/api/policies?role=user&object=directory&action=read";
    app.call(Method::DELETE, path, Some(&admin.access), None)
        .await
        .data();
    app.get("/api/users", &user.access)
        .await
        .assert_error(403, "forbidden");

    let rule = json!({ "role": "user", "object": "directory", "action": "read" });
    app.post("/api/policies", Some(&admin.access), rule)
        .await
        .data();
    app.get("/api/users", &user.access).await.data();
}

#[tokio::test]
async fn granting_a_new_rule_opens_an_endpoint_for_that_role() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let astro = app
        .participant_login(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    app.get("/api/audit-log", &astro.access)
        .await
        .assert_error(403, "forbidden");

    let rule = json!({ "role": "astrologer", "object": "audit", "action": "read" });
    let check = app
        .post("/api/policies/check", Some(&admin.access), rule.clone())
        .await;
    assert_eq!(check.data()["allowed"], json!(false));
    app.post("/api/policies", Some(&admin.access), rule.clone())
        .await
        .data();

    app.get("/api/audit-log", &astro.access).await.data();
    let check = app
        .post("/api/policies/check", Some(&admin.access), rule)
        .await;
    assert_eq!(check.data()["allowed"], json!(true));
}

#[tokio::test]
async fn a_policy_change_in_one_tenant_leaves_others_alone() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let acme_admin = app.login_admin(&acme).await;
    let other_user = app
        .participant_login(&other, ParticipantType::User, "Uma")
        .await;

    let path = "/api/policies?role=user&object=directory&action=read";
    app.call(Method::DELETE, path, Some(&acme_admin.access), None)
        .await
        .data();

    app.get("/api/users", &other_user.access).await.data();
}

#[tokio::test]
async fn rules_are_validated_duplicates_conflict_and_the_lockout_guard_is_protected() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;

    let invalid = json!({ "role": "superadmin", "object": "tenants", "action": "write" });
    app.post("/api/policies", Some(&admin.access), invalid)
        .await
        .assert_error(422, "validation_failed");
    let existing = json!({ "role": "admin", "object": "participants", "action": "read" });
    app.post("/api/policies", Some(&admin.access), existing)
        .await
        .assert_error(409, "rule_exists");
    let guard = "/api/policies?role=admin&object=policies&action=write";
    app.call(Method::DELETE, guard, Some(&admin.access), None)
        .await
        .assert_error(409, "rule_protected");
    let missing = "/api/policies?role=user&object=audit&action=read";
    app.call(Method::DELETE, missing, Some(&admin.access), None)
        .await
        .assert_error(404, "not_found");
}

/// A core of another process (the CLI, another node): same database, but
/// its events reach none of this server's listeners.
fn other_process(app: &TestApp) -> samvad::domain::Core {
    samvad::state::build_core(&app.state.config, app.pool.clone()).unwrap()
}

#[tokio::test]
async fn a_tenant_created_by_another_process_works_without_a_restart() {
    let app = TestApp::spawn().await;
    let cli = other_process(&app);
    let new = samvad::domain::tenant::NewTenant {
        slug: samvad::domain::values::Slug::parse("from-cli").unwrap(),
        name: samvad::domain::values::Name::parse("From CLI").unwrap(),
        admin_email: samvad::domain::values::Email::parse("boss@cli.test").unwrap(),
        admin_password: samvad::domain::values::Password::parse(crate::helpers::PASSWORD).unwrap(),
        admin_name: None,
    };
    cli.create_tenant(None, new).await.unwrap();

    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({ "tenant": "from-cli", "email": "boss@cli.test", "password": crate::helpers::PASSWORD }),
        )
        .await;
    let access = login.data()["accessToken"].as_str().unwrap().to_owned();
    app.get("/api/policies", &access).await.data();
}

#[tokio::test]
async fn a_rule_edited_by_another_process_applies_after_the_periodic_reload() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let admin_actor = app
        .state
        .auth
        .authenticate(&app.login_admin(&tenant).await.access, None)
        .await
        .unwrap();
    app.get("/api/users", &user.access).await.data();

    let rule = samvad::domain::policy::Rule::parse("user", "directory", "read").unwrap();
    other_process(&app)
        .remove_policy_rule(&admin_actor, rule)
        .await
        .unwrap();
    app.get("/api/users", &user.access).await.data(); // not seen yet: another process

    app.state.auth.reload_policy().await.unwrap(); // what the periodic upkeep runs
    app.get("/api/users", &user.access)
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_failed_reload_keeps_the_rules_in_force() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    use sqlx::Executor;
    app.pool
        .execute("RENAME TABLE casbin_rules TO casbin_rules_away")
        .await
        .unwrap();

    assert!(app.state.auth.reload_policy().await.is_err());
    app.get("/api/participants", &admin.access).await.data();

    app.pool
        .execute("RENAME TABLE casbin_rules_away TO casbin_rules")
        .await
        .unwrap();
    app.state.auth.reload_policy().await.unwrap();
    app.get("/api/participants", &admin.access).await.data();
}
