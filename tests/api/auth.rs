//! Login, refresh rotation with reuse detection, logout and revocation.

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn login_returns_tokens_and_the_user_with_both_field_spellings() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;

    let res = app
        .post(
            "/api/auth/login",
            None,
            json!({ "tenant": "acme", "email": tenant.admin_email, "password": PASSWORD, "deviceName": "Pixel" }),
        )
        .await;

    let data = res.data();
    assert!(data["accessToken"].as_str().unwrap().starts_with("eyJ"));
    assert!(data["refreshToken"].as_str().unwrap().contains('.'));
    assert_eq!(data["expiresIn"], json!(900));
    assert_eq!(data["tokenType"], json!("Bearer"));
    let user = &data["user"];
    assert_eq!(user["id"], json!(tenant.admin_id));
    assert_eq!(user["uid"], user["id"]);
    assert_eq!(user["userId"], user["id"]);
    assert_eq!(user["type"], json!("admin"));
    assert_eq!(user["role"], json!("admin"));
    assert!(user.get("avatar").is_some() && user.get("avatarUrl").is_some());
}

#[tokio::test]
async fn wrong_tenant_wrong_email_and_wrong_password_give_the_same_401() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    app.tenant("other").await;

    let attempts = [
        json!({ "tenant": "nope", "email": tenant.admin_email, "password": PASSWORD }),
        json!({ "tenant": "other", "email": tenant.admin_email, "password": PASSWORD }),
        json!({ "tenant": "acme", "email": "ghost@acme.test", "password": PASSWORD }),
        json!({ "tenant": "acme", "email": tenant.admin_email, "password": "wrong-password" }),
        json!({ "tenant": "acme", "phone": "+919812345678", "password": PASSWORD }),
    ];
    let mut bodies = vec![];
    for attempt in attempts {
        let res = app.post("/api/auth/login", None, attempt).await;
        res.assert_error(401, "invalid_credentials");
        bodies.push(res.body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "bodies differ: {bodies:?}"
    );
}

#[tokio::test]
async fn a_participant_logs_in_by_phone_in_national_or_e164_form() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.post(
        "/api/participants",
        Some(&admin.access),
        json!({ "type": "user", "name": "Phone User", "phone": "098123 45678", "password": PASSWORD }),
    )
    .await
    .data();

    for phone in ["+919812345678", "09812345678"] {
        let res = app
            .post(
                "/api/auth/login",
                None,
                json!({ "tenant": "acme", "phone": phone, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.data()["user"]["phone"], json!("+919812345678"));
    }
}

#[tokio::test]
async fn login_needs_exactly_one_of_email_and_phone() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let both = json!({ "tenant": "acme", "email": "a@acme.test", "phone": "+919812345678", "password": PASSWORD });
    app.post("/api/auth/login", None, both)
        .await
        .assert_error(422, "validation_failed");
    let neither = json!({ "tenant": "acme", "password": PASSWORD });
    app.post("/api/auth/login", None, neither)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn refresh_rotates_tokens_and_the_new_access_token_works() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let login = app.login_admin(&tenant).await;

    let res = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": login.refresh }),
        )
        .await;

    let data = res.data();
    let new_refresh = data["refreshToken"].as_str().unwrap();
    assert_ne!(new_refresh, login.refresh);
    let me = app
        .get("/api/auth/me", data["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(me.data()["id"], json!(tenant.admin_id));
    // The new refresh token works once more.
    app.post(
        "/api/auth/refresh",
        None,
        json!({ "refreshToken": new_refresh }),
    )
    .await
    .data();
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let login = app.login_admin(&tenant).await;
    let rotated = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": login.refresh }),
        )
        .await;
    let rotated = rotated.data().clone();

    let replay = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": login.refresh }),
        )
        .await;

    replay.assert_error(401, "refresh_token_reused");
    // The thief's and the owner's tokens of that session are all dead now.
    app.post(
        "/api/auth/refresh",
        None,
        json!({ "refreshToken": rotated["refreshToken"] }),
    )
    .await
    .assert_error(401, "invalid_refresh_token");
    app.get("/api/auth/me", rotated["accessToken"].as_str().unwrap())
        .await
        .assert_error(401, "session_revoked");
    app.get("/api/auth/me", &login.access)
        .await
        .assert_error(401, "session_revoked");
}

#[tokio::test]
async fn unknown_or_malformed_refresh_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let login = app.login_admin(&tenant).await;
    let (sid, _) = login.refresh.split_once('.').unwrap();
    let forged = format!("{sid}.{}", "A".repeat(43));
    for token in ["", "garbage", forged.as_str()] {
        app.post("/api/auth/refresh", None, json!({ "refreshToken": token }))
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    // A forged token of a live session does not revoke it.
    app.get("/api/auth/me", &login.access).await.data();
}

#[tokio::test]
async fn logout_rejects_the_sessions_access_token_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let login = app.login_admin(&tenant).await;
    let other_device = app.login_admin(&tenant).await;
    app.get("/api/auth/me", &login.access).await.data(); // now cached as live

    app.call(Method::POST, "/api/auth/logout", Some(&login.access), None)
        .await
        .data();

    app.get("/api/auth/me", &login.access)
        .await
        .assert_error(401, "session_revoked");
    app.post(
        "/api/auth/refresh",
        None,
        json!({ "refreshToken": login.refresh }),
    )
    .await
    .assert_error(401, "invalid_refresh_token");
    // Other devices stay logged in.
    app.get("/api/auth/me", &other_device.access).await.data();
}

#[tokio::test]
async fn requests_without_or_with_bad_tokens_get_401() {
    let app = TestApp::spawn().await;
    let res = app.call(Method::GET, "/api/auth/me", None, None).await;
    res.assert_error(401, "unauthorized");
    app.get("/api/auth/me", "not-a-jwt")
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test]
async fn tokens_signed_with_another_key_or_with_altered_claims_are_refused() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let claims: serde_json::Value = {
        use base64::Engine;
        let payload = user.access.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let sign = |claims: &serde_json::Value, secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let secret = app.state.config.jwt_secret.expose().to_owned();

    let foreign = sign(&claims, "another-secret-another-secret-!!!!");
    app.get("/api/auth/me", &foreign)
        .await
        .assert_error(401, "invalid_token");

    let mut promoted = claims.clone();
    promoted["role"] = json!("admin");
    app.get("/api/participants", &sign(&promoted, &secret))
        .await
        .assert_error(401, "invalid_token");

    let mut expired = claims.clone();
    expired["exp"] = json!(1_000);
    expired["iat"] = json!(900);
    app.get("/api/auth/me", &sign(&expired, &secret))
        .await
        .assert_error(401, "token_expired");
}

#[tokio::test]
async fn a_blocked_participant_cannot_log_in_and_their_tokens_stop() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (astro_id, astro_email) = app
        .participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let astro = app.login(&tenant, &astro_email).await;
    app.get("/api/auth/me", &astro.access).await.data();

    app.post(
        &format!("/api/participants/{astro_id}/block"),
        Some(&admin.access),
        json!({}),
    )
    .await
    .data();

    app.get("/api/auth/me", &astro.access)
        .await
        .assert_error(401, "session_revoked");
    app.post(
        "/api/auth/login",
        None,
        json!({ "tenant": "acme", "email": astro_email, "password": PASSWORD }),
    )
    .await
    .assert_error(401, "invalid_credentials");

    app.post(
        &format!("/api/participants/{astro_id}/unblock"),
        Some(&admin.access),
        json!({}),
    )
    .await
    .data();
    app.login(&tenant, &astro_email).await;
}

#[tokio::test]
async fn the_superadmin_has_no_participant_profile() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    app.get("/api/auth/me", &root.access)
        .await
        .assert_error(403, "forbidden");
    let me = app.get("/api/platform/me", &root.access).await;
    assert_eq!(me.data()["role"], json!("superadmin"));
}
