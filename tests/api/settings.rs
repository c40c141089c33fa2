//! Tenant settings and the rate limits they set.

use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn settings_start_at_their_defaults_and_change_field_by_field() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;

    let res = app.get("/api/settings", &admin.access).await;
    assert_eq!(res.data()["otpTtlSeconds"], json!(300));
    assert_eq!(
        res.data()["loginPerAccount"],
        json!({ "max": 10, "perSeconds": 60 })
    );

    let res = app
        .patch(
            "/api/settings",
            &admin.access,
            json!({ "otpTtlSeconds": 120, "loginPerIp": { "max": 5, "perSeconds": 10 } }),
        )
        .await;
    assert_eq!(res.data()["otpTtlSeconds"], json!(120));
    assert_eq!(
        res.data()["loginPerIp"],
        json!({ "max": 5, "perSeconds": 10 })
    );
    assert_eq!(
        res.data()["otpMaxAttempts"],
        json!(5),
        "untouched fields stay"
    );

    for bad in [
        json!({ "otpTtlSeconds": 5 }),
        json!({ "otpMaxAttempts": 0 }),
        json!({ "loginPerIp": { "max": 0, "perSeconds": 10 } }),
    ] {
        app.patch("/api/settings", &admin.access, bad)
            .await
            .assert_error(422, "validation_failed");
    }
    let log = app
        .get("/api/audit-log?action=settings.update", &admin.access)
        .await;
    assert_eq!(log.data()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn one_tenants_settings_leave_the_others_alone() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let admin = app.login_admin(&acme).await;
    app.settings(&admin, json!({ "otpTtlSeconds": 120 })).await;
    let other_admin = app.login_admin(&other).await;
    assert_eq!(
        app.get("/api/settings", &other_admin.access).await.data()["otpTtlSeconds"],
        json!(300)
    );
}

#[tokio::test]
async fn logins_beyond_the_tenants_limit_get_429_with_retry_after() {
    let app = TestApp::spawn().await;
    let (tenant, _) = crate::login_limits::acme_allowing_three_logins_a_minute(&app).await;
    let (_, email) = app.participant(&tenant, ParticipantType::User, "Uma").await;
    let attempt = json!({ "tenant": "acme", "email": email, "password": "wrong password" });

    for _ in 0..3 {
        app.post("/api/auth/login", None, attempt.clone())
            .await
            .assert_error(401, "invalid_credentials");
    }
    let limited = app.post("/api/auth/login", None, attempt).await;
    limited.assert_error(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    // Even the right password waits: the limit counts attempts, not failures.
    let right = json!({ "tenant": "acme", "email": email, "password": PASSWORD });
    app.post("/api/auth/login", None, right)
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn the_per_address_limit_counts_across_accounts() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.settings(
        &admin,
        json!({ "loginPerIp": { "max": 4, "perSeconds": 60 } }),
    )
    .await;
    // Four attempts are allowed (the limit was just set, so counting starts afresh).
    for n in 0..4 {
        let attempt = json!({ "tenant": "acme", "email": format!("nobody{n}@acme.test"), "password": "whatever1" });
        app.post("/api/auth/login", None, attempt)
            .await
            .assert_error(401, "invalid_credentials");
    }
    let attempt =
        json!({ "tenant": "acme", "email": "nobody9@acme.test", "password": "whatever1" });
    app.post("/api/auth/login", None, attempt)
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn the_default_region_decides_how_national_numbers_are_read() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    assert_eq!(
        app.get("/api/settings", &admin.access).await.data()["defaultRegion"],
        json!("IN")
    );

    let res = app
        .patch(
            "/api/settings",
            &admin.access,
            json!({ "defaultRegion": "us" }),
        )
        .await;
    assert_eq!(res.data()["defaultRegion"], json!("US"));
    let user =
        json!({ "type": "user", "name": "Sam", "phone": "(415) 555-2671", "password": PASSWORD });
    let created = app
        .post("/api/participants", Some(&admin.access), user)
        .await;
    assert_eq!(created.data()["phone"], json!("+14155552671"));
    let login = json!({ "tenant": "acme", "phone": "415 555 2671", "password": PASSWORD });
    app.post("/api/auth/login", None, login).await.data();

    app.patch(
        "/api/settings",
        &admin.access,
        json!({ "defaultRegion": "XX" }),
    )
    .await
    .assert_error(422, "validation_failed");
}
