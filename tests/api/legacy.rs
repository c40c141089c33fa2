//! Tokens of the old backends: `{uid}` (Backend1) and `{id, sessionId}`
//! (Backend), signed with the legacy secret, map to sessions of ours.

use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

const OLD_SECRET: &str = "the-old-backends-secret";

fn old_token(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.legacy_tokens = Some(samvad::config::LegacyTokens {
            secret: samvad::config::Secret::new(OLD_SECRET),
            tenant: "acme".into(),
        })
    })
    .await
}

async fn imported_user(app: &TestApp) -> (crate::helpers::TestTenant, String) {
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let body =
        json!({ "type": "user", "name": "Old Timer", "legacyId": "64f0c0ffee00112233445566" });
    let res = app
        .post("/api/participants", Some(&admin.access), body)
        .await;
    (tenant, res.data()["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn both_old_token_shapes_act_as_the_imported_participant() {
    let app = app().await;
    let (_, id) = imported_user(&app).await;

    let backend1 = old_token(json!({ "uid": "64f0c0ffee00112233445566" }), OLD_SECRET);
    assert_eq!(
        app.get("/api/auth/me", &backend1).await.data()["id"],
        json!(id)
    );
    let backend = old_token(
        json!({ "id": "64f0c0ffee00112233445566", "sessionId": "s-1" }),
        OLD_SECRET,
    );
    assert_eq!(
        app.get("/api/auth/me", &backend).await.data()["id"],
        json!(id)
    );
    // Only imported accounts: our own ids are not the old backends' to name.
    let by_our_id = old_token(json!({ "uid": id }), OLD_SECRET);
    app.get("/api/auth/me", &by_our_id)
        .await
        .assert_error(401, "invalid_token");

    let sessions = app.get("/api/auth/sessions", &backend).await;
    assert!(
        sessions
            .data()
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["deviceName"] == json!("legacy token"))
    );
}

#[tokio::test]
async fn old_tokens_are_revoked_like_any_session() {
    let app = app().await;
    let (tenant, id) = imported_user(&app).await;
    let admin = app.login_admin(&tenant).await;
    let session_a = old_token(
        json!({ "id": "64f0c0ffee00112233445566", "sessionId": "a" }),
        OLD_SECRET,
    );
    let session_b = old_token(
        json!({ "id": "64f0c0ffee00112233445566", "sessionId": "b" }),
        OLD_SECRET,
    );
    app.get("/api/auth/me", &session_a).await.data();
    app.get("/api/auth/me", &session_b).await.data();

    // Logging out with an old token ends that old session only.
    app.call(Method::POST, "/api/auth/logout", Some(&session_a), None)
        .await
        .data();
    app.get("/api/auth/me", &session_a)
        .await
        .assert_error(401, "session_revoked");
    app.get("/api/auth/me", &session_b).await.data();

    // Blocking the account ends them all.
    app.post(
        &format!("/api/participants/{id}/block"),
        Some(&admin.access),
        json!({}),
    )
    .await
    .data();
    app.get("/api/auth/me", &session_b)
        .await
        .assert_error(401, "session_revoked");
}

#[tokio::test]
async fn old_tokens_with_another_secret_or_of_unknown_accounts_are_refused() {
    let app = app().await;
    imported_user(&app).await;
    let wrong_secret = old_token(
        json!({ "uid": "64f0c0ffee00112233445566" }),
        "not-the-secret",
    );
    app.get("/api/auth/me", &wrong_secret)
        .await
        .assert_error(401, "invalid_token");
    let unknown = old_token(json!({ "uid": "000000000000000000000000" }), OLD_SECRET);
    app.get("/api/auth/me", &unknown)
        .await
        .assert_error(401, "invalid_token");
    let expired = old_token(
        json!({ "uid": "64f0c0ffee00112233445566", "exp": 1_000 }),
        OLD_SECRET,
    );
    app.get("/api/auth/me", &expired)
        .await
        .assert_error(401, "token_expired");
}

#[tokio::test]
async fn without_a_legacy_secret_old_tokens_are_just_invalid() {
    let app = TestApp::spawn().await;
    let token = old_token(json!({ "uid": "64f0c0ffee00112233445566" }), OLD_SECRET);
    app.get("/api/auth/me", &token)
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn two_accounts_reusing_an_old_session_id_stay_two_identities() {
    let app = TestApp::spawn_with(|c| {
        c.legacy_tokens = Some(samvad::config::LegacyTokens {
            secret: samvad::config::Secret::new("old-secret"),
            tenant: "acme".into(),
        })
    })
    .await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    for (kind, name, legacy) in [("admin", "Old Admin", "aaa"), ("user", "Old User", "bbb")] {
        let body = json!({ "type": kind, "name": name, "legacyId": legacy, "password": PASSWORD });
        app.post("/api/participants", Some(&admin.access), body)
            .await
            .data();
    }
    let token = |id: &str| {
        let claims = json!({ "id": id, "sessionId": "1" });
        jsonwebtoken::encode(
            &Default::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"old-secret"),
        )
        .unwrap()
    };
    assert_eq!(
        app.get("/api/auth/me", &token("aaa")).await.data()["name"],
        json!("Old Admin")
    );
    let user = app.get("/api/auth/me", &token("bbb")).await;
    assert_eq!(user.data()["name"], json!("Old User"));
    assert_eq!(user.data()["type"], json!("user"));
}
