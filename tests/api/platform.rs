//! The superadmin's tenant management.

use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn the_superadmin_creates_a_tenant_whose_admin_can_work_at_once() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;

    let res = app
        .post(
            "/api/platform/tenants",
            Some(&root.access),
            json!({ "slug": "Star-Gazers", "name": "Star Gazers", "adminEmail": "Boss@Stars.test", "adminPassword": PASSWORD }),
        )
        .await;

    let data = res.data();
    assert_eq!(data["tenant"]["slug"], json!("star-gazers"));
    assert_eq!(data["tenant"]["status"], json!("active"));
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({ "tenant": "star-gazers", "email": "boss@stars.test", "password": PASSWORD }),
        )
        .await;
    let access = login.data()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(login.data()["user"]["id"], data["adminId"]);
    // The default policy was loaded without a restart.
    app.get("/api/policies", &access).await.data();
    app.get("/api/participants", &access).await.data();
}

#[tokio::test]
async fn tenant_slugs_are_unique_and_validated() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    let body = |slug: &str| json!({ "slug": slug, "name": "N", "adminEmail": "a@b.test", "adminPassword": PASSWORD });

    app.post("/api/platform/tenants", Some(&root.access), body("taken"))
        .await
        .data();
    app.post("/api/platform/tenants", Some(&root.access), body("taken"))
        .await
        .assert_error(409, "slug_taken");
    app.post(
        "/api/platform/tenants",
        Some(&root.access),
        body("no spaces"),
    )
    .await
    .assert_error(422, "validation_failed");
    let short_password = json!({ "slug": "ok-slug", "name": "N", "adminEmail": "a@b.test", "adminPassword": "short" });
    app.post("/api/platform/tenants", Some(&root.access), short_password)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn tenants_are_listed_by_slug_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    for slug in ["delta", "alpha", "charlie", "bravo"] {
        app.tenant(slug).await;
    }

    let first = app.get("/api/platform/tenants?limit=3", &root.access).await;
    let first = first.data();
    let slugs: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["alpha", "bravo", "charlie"]);
    let cursor = first["nextCursor"].as_str().unwrap();

    let second = app
        .get(
            &format!("/api/platform/tenants?limit=3&cursor={cursor}"),
            &root.access,
        )
        .await;
    let second = second.data();
    assert_eq!(second["items"][0]["slug"], json!("delta"));
    assert!(second["nextCursor"].is_null());
}

#[tokio::test]
async fn an_unknown_tenant_is_a_404() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    let ghost = uuid::Uuid::now_v7();
    app.get(&format!("/api/platform/tenants/{ghost}"), &root.access)
        .await
        .assert_error(404, "not_found");
    app.post(
        &format!("/api/platform/tenants/{ghost}/suspend"),
        Some(&root.access),
        json!({}),
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn suspending_a_tenant_stops_its_tokens_at_once_and_resuming_restores_them() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let user = app
        .participant_login(&acme, ParticipantType::User, "Uma")
        .await;
    let bystander = app.login_admin(&other).await;
    app.get("/api/auth/me", &user.access).await.data(); // cached as live

    let res = app
        .post(
            &format!("/api/platform/tenants/{}/suspend", acme.id),
            Some(&root.access),
            json!({}),
        )
        .await;

    assert_eq!(res.data()["status"], json!("suspended"));
    app.get("/api/auth/me", &user.access)
        .await
        .assert_error(401, "tenant_suspended");
    app.post(
        "/api/auth/refresh",
        None,
        json!({ "refreshToken": user.refresh }),
    )
    .await
    .assert_error(401, "invalid_refresh_token");
    app.post(
        "/api/auth/login",
        None,
        json!({ "tenant": "acme", "email": acme.admin_email, "password": PASSWORD }),
    )
    .await
    .assert_error(401, "invalid_credentials");
    app.get("/api/auth/me", &bystander.access).await.data();

    let res = app
        .post(
            &format!("/api/platform/tenants/{}/resume", acme.id),
            Some(&root.access),
            json!({}),
        )
        .await;
    assert_eq!(res.data()["status"], json!("active"));
    app.get("/api/auth/me", &user.access).await.data();
}

#[tokio::test]
async fn superadmin_login_refuses_wrong_passwords_like_participant_login() {
    let app = TestApp::spawn().await;
    app.superadmin().await;
    for body in [
        json!({ "email": "root@platform.test", "password": "wrong-password" }),
        json!({ "email": "nobody@platform.test", "password": PASSWORD }),
    ] {
        app.post("/api/platform/login", None, body)
            .await
            .assert_error(401, "invalid_credentials");
    }
}
