//! API keys: shown once, stored hashed, scoped through the policy,
//! revocable, and audited on every use.

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Res, TestApp};

async fn with_key(app: &TestApp, access: &str, scopes: &[&str]) -> (String, String) {
    let res = app
        .post(
            "/api/api-keys",
            Some(access),
            json!({ "name": "CRM sync", "scopes": scopes }),
        )
        .await;
    let data = res.data();
    (
        data["id"].as_str().unwrap().to_owned(),
        data["key"].as_str().unwrap().to_owned(),
    )
}

async fn keyed(app: &TestApp, method: Method, path: &str, key: &str, body: Option<Value>) -> Res {
    let mut request = app.raw(method, path).header("x-api-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

#[tokio::test]
async fn a_key_is_shown_once_and_listed_without_its_secret() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (id, key) = with_key(&app, &admin.access, &["read", "write"]).await;
    assert!(key.starts_with("svk_"));

    let list = app.get("/api/api-keys", &admin.access).await;
    let listed = list.data().as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], json!(id));
    assert_eq!(listed[0]["scopes"], json!(["read", "write"]));
    assert!(
        !list.body.to_string().contains(&key[key.len() - 20..]),
        "the secret never comes back"
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_hash FROM api_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32, "only a hash is stored");
}

#[tokio::test]
async fn scopes_decide_what_a_key_may_do() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (_, reader) = with_key(&app, &admin.access, &["read"]).await;
    let (_, writer) = with_key(&app, &admin.access, &["write"]).await;
    let (_, admin_key) = with_key(&app, &admin.access, &["admin"]).await;
    let new_user = json!({ "type": "user", "name": "Via Key" });

    keyed(&app, Method::GET, "/api/users", &reader, None)
        .await
        .data();
    keyed(&app, Method::GET, "/api/participants", &reader, None)
        .await
        .data();
    keyed(
        &app,
        Method::POST,
        "/api/participants",
        &reader,
        Some(new_user.clone()),
    )
    .await
    .assert_error(403, "forbidden");
    keyed(
        &app,
        Method::POST,
        "/api/participants",
        &writer,
        Some(new_user),
    )
    .await
    .data();
    keyed(&app, Method::GET, "/api/audit-log", &reader, None)
        .await
        .assert_error(403, "forbidden");
    keyed(&app, Method::GET, "/api/audit-log", &admin_key, None)
        .await
        .data();
    keyed(&app, Method::GET, "/api/settings", &admin_key, None)
        .await
        .data();
    // Keys are no person: profile and key management need a session.
    keyed(&app, Method::GET, "/api/users/profile", &admin_key, None)
        .await
        .assert_error(401, "unauthorized");
    keyed(&app, Method::GET, "/api/api-keys", &admin_key, None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_revoked_or_forged_key_stops_working() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (id, key) = with_key(&app, &admin.access, &["read"]).await;
    keyed(&app, Method::GET, "/api/users", &key, None)
        .await
        .data();

    app.call(
        Method::DELETE,
        &format!("/api/api-keys/{id}"),
        Some(&admin.access),
        None,
    )
    .await
    .data();

    keyed(&app, Method::GET, "/api/users", &key, None)
        .await
        .assert_error(401, "invalid_api_key");
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    keyed(&app, Method::GET, "/api/users", &forged, None)
        .await
        .assert_error(401, "invalid_api_key");
    keyed(&app, Method::GET, "/api/users", "svk_garbage", None)
        .await
        .assert_error(401, "invalid_api_key");
}

#[tokio::test]
async fn every_use_of_a_key_is_audited() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (id, key) = with_key(&app, &admin.access, &["read"]).await;
    keyed(&app, Method::GET, "/api/users", &key, None)
        .await
        .data();
    keyed(&app, Method::GET, "/api/participants?limit=1", &key, None)
        .await
        .data();

    let log = app
        .get("/api/audit-log?action=api_key.use", &admin.access)
        .await;
    let uses = log.data()["items"].as_array().unwrap().clone();
    assert_eq!(uses.len(), 2);
    assert!(
        uses.iter()
            .all(|u| u["actorId"] == json!(id) && u["actorRole"] == json!("apikey"))
    );
    assert_eq!(uses[0]["detail"]["request"], json!("GET /api/participants"));
    let listed = app.get("/api/api-keys", &admin.access).await;
    assert!(listed.data()[0]["lastUsedAt"].is_string());
}

#[tokio::test]
async fn a_key_reaches_only_its_own_tenant() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let admin = app.login_admin(&acme).await;
    let (_, key) = with_key(&app, &admin.access, &["read", "write"]).await;
    let (foreign, _) = app
        .participant(&other, ParticipantType::User, "Foreign")
        .await;

    keyed(
        &app,
        Method::GET,
        &format!("/api/participants/{foreign}"),
        &key,
        None,
    )
    .await
    .assert_error(404, "not_found");
    let other_admin = app.login_admin(&other).await;
    let (key_id, _) = with_key(&app, &other_admin.access, &["read"]).await;
    app.call(
        Method::DELETE,
        &format!("/api/api-keys/{key_id}"),
        Some(&admin.access),
        None,
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn keys_need_valid_scopes_and_a_name() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    for body in [
        json!({ "name": "k", "scopes": [] }),
        json!({ "name": "k", "scopes": ["root"] }),
        json!({ "name": " ", "scopes": ["read"] }),
    ] {
        app.post("/api/api-keys", Some(&admin.access), body)
            .await
            .assert_error(422, "validation_failed");
    }
}

#[tokio::test]
async fn a_suspended_tenants_keys_stop() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (_, key) = with_key(&app, &admin.access, &["read"]).await;
    app.post(
        &format!("/api/platform/tenants/{}/suspend", tenant.id),
        Some(&root.access),
        json!({}),
    )
    .await
    .data();
    keyed(&app, Method::GET, "/api/users", &key, None)
        .await
        .assert_error(401, "tenant_suspended");
}

#[tokio::test]
async fn an_api_key_cannot_create_or_change_admins() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (_, key) = with_key(&app, &admin.access, &["write", "admin"]).await;
    let as_key = |method: Method, path: &str, body: Value| {
        app.send(app.raw(method, path).header("x-api-key", &key).json(&body))
    };

    let mint =
        json!({ "type": "admin", "name": "Mallory", "email": "m@evil.test", "password": PASSWORD });
    as_key(Method::POST, "/api/participants", mint)
        .await
        .assert_error(403, "forbidden");
    let hijack = json!({ "email": "attacker@evil.test" });
    as_key(
        Method::PATCH,
        &format!("/api/participants/{}", tenant.admin_id),
        hijack,
    )
    .await
    .assert_error(403, "forbidden");
    as_key(
        Method::POST,
        &format!("/api/participants/{}/block", tenant.admin_id),
        json!({}),
    )
    .await
    .assert_error(403, "forbidden");
    // Users are the key's to manage.
    as_key(
        Method::POST,
        "/api/participants",
        json!({ "type": "user", "name": "U" }),
    )
    .await
    .data();
}
