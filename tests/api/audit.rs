//! The audit log records admin actions and logins, per tenant.

use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn admin_actions_and_logins_are_audited_newest_first() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (id, _) = app.participant(&tenant, ParticipantType::User, "Uma").await;
    app.post(
        &format!("/api/participants/{id}/block"),
        Some(&admin.access),
        json!({}),
    )
    .await
    .data();

    let res = app.get("/api/audit-log", &admin.access).await;

    let actions: Vec<&str> = res.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Platform actions (tenant.create) are not in the tenant's own log.
    assert_eq!(
        actions,
        ["participant.block", "participant.create", "auth.login"]
    );
    let block = &res.data()["items"][0];
    assert_eq!(block["actorId"], json!(tenant.admin_id));
    assert_eq!(block["targetId"], json!(id));
    assert_eq!(block["ip"], json!("127.0.0.1"));

    let logins = app
        .get("/api/audit-log?action=auth.login", &admin.access)
        .await;
    assert_eq!(logins.data()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn platform_actions_on_a_tenant_do_not_show_the_superadmin_to_its_admins() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    let tenant = app.tenant("acme").await;
    app.post(
        &format!("/api/platform/tenants/{}/suspend", tenant.id),
        Some(&root.access),
        json!({}),
    )
    .await
    .data();
    app.post(
        &format!("/api/platform/tenants/{}/resume", tenant.id),
        Some(&root.access),
        json!({}),
    )
    .await
    .data();
    let admin = app.login_admin(&tenant).await;

    let res = app.get("/api/audit-log", &admin.access).await;

    for entry in res.data()["items"].as_array().unwrap() {
        assert_ne!(
            entry["actorId"],
            json!(root.id),
            "superadmin leaked: {entry}"
        );
        assert_ne!(entry["actorRole"], json!("superadmin"), "{entry}");
    }
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_audit_log() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    app.login_admin(&acme).await;
    let other_admin = app.login_admin(&other).await;

    let res = app.get("/api/audit-log", &other_admin.access).await;

    for entry in res.data()["items"].as_array().unwrap() {
        assert_ne!(entry["actorId"], json!(acme.admin_id), "leaked: {entry}");
    }
}
