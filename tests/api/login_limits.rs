//! Login limits: per account and per address, phone spellings counted as
//! one, and the client address behind a trusted proxy.

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::{Login, PASSWORD, TestApp, TestTenant};

/// Tenant `acme`, whose accounts allow three logins a minute; and its
/// admin, logged in.
pub async fn acme_allowing_three_logins_a_minute(app: &TestApp) -> (TestTenant, Login) {
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.settings(
        &admin,
        json!({ "loginPerAccount": { "max": 3, "perSeconds": 60 } }),
    )
    .await;
    (tenant, admin)
}

#[tokio::test]
async fn phone_spellings_share_one_login_limit() {
    let app = TestApp::spawn().await;
    let (_, admin) = acme_allowing_three_logins_a_minute(&app).await;
    let body =
        json!({ "type": "user", "name": "P", "phone": "+919812345678", "password": PASSWORD });
    app.post("/api/participants", Some(&admin.access), body)
        .await
        .data();

    for phone in ["+919812345678", "09812345678", "9812345678"] {
        let wrong = json!({ "tenant": "acme", "phone": phone, "password": "wrong password" });
        app.post("/api/auth/login", None, wrong)
            .await
            .assert_error(401, "invalid_credentials");
    }
    let right = json!({ "tenant": "acme", "phone": "+91 98123 45678", "password": PASSWORD });
    app.post("/api/auth/login", None, right)
        .await
        .assert_error(429, "rate_limited");
}

/// A tenant behind a trusted proxy whose owner's account allows three
/// logins a minute from one address; the app, and the owner's email.
async fn behind_a_proxy() -> (TestApp, String) {
    let app = TestApp::spawn_with(|c| c.trust_proxy = true).await;
    let (tenant, _) = acme_allowing_three_logins_a_minute(&app).await;
    let (_, email) = app
        .participant(&tenant, ParticipantType::User, "Owner")
        .await;
    (app, email)
}

/// A login to `email` whose request carries these `X-Forwarded-For` lines.
async fn login_through(
    app: &TestApp,
    email: &str,
    lines: &[&str],
    password: &str,
) -> crate::helpers::Res {
    let body = json!({ "tenant": "acme", "email": email, "password": password });
    let mut request = app.raw(Method::POST, "/api/auth/login").json(&body);
    for line in lines {
        request = request.header("x-forwarded-for", *line);
    }
    app.send(request).await
}

#[tokio::test]
async fn one_address_cannot_lock_the_owner_out_and_forwarded_for_is_read_from_the_right() {
    let (app, email) = behind_a_proxy().await;
    // The client may write anything first; the proxy appends the real address last.
    for _ in 0..3 {
        login_through(&app, &email, &["6.6.6.6, 10.0.0.1"], "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    login_through(&app, &email, &["6.6.6.6, 10.0.0.1"], PASSWORD)
        .await
        .assert_error(429, "rate_limited");
    let session = login_through(&app, &email, &["6.6.6.6, 10.0.0.2"], PASSWORD).await;
    let access = session.data()["accessToken"].as_str().unwrap().to_owned();
    app.get("/api/auth/sessions", &access).await.data();
}

#[tokio::test]
async fn a_proxy_that_adds_a_forwarded_for_line_of_its_own_is_the_one_believed() {
    let (app, email) = behind_a_proxy().await;
    // The client's own line first, the proxy's after it.
    let forged = ["10.0.0.2", "10.0.0.1"];
    for _ in 0..3 {
        login_through(&app, &email, &forged, "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    login_through(&app, &email, &["10.0.0.1"], PASSWORD)
        .await
        .assert_error(429, "rate_limited");
    // The address the client wrote was never the one counted.
    login_through(&app, &email, &["10.0.0.2"], PASSWORD)
        .await
        .data();
}
