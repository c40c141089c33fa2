//! Registering by code: a verified account, taken over from whoever
//! pre-registered the address, and refused once registration closes.

use serde_json::json;
use sqlx::Executor;

use super::verify_body;
use crate::{helpers::TestApp, outbox::app_with_outbox};

#[tokio::test]
async fn registering_by_code_creates_a_verified_user_and_then_logs_it_in() {
    let (app, outbox) = app_with_outbox().await;
    app.tenant("acme").await;

    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "phone": "+14155552671" }),
    )
    .await
    .data();
    let code = outbox.sms.next().await.code();
    let mut body = verify_body("acme", "+14155552671", &code);
    body["name"] = json!("New Person");
    let res = app.post("/api/auth/verify-otp-register", None, body).await;
    let data = res.data();
    assert_eq!(data["created"], json!(true));
    assert_eq!(data["user"]["name"], json!("New Person"));
    assert_eq!(data["user"]["type"], json!("user"));
    let id = data["user"]["id"].as_str().unwrap().to_owned();

    // The same number registering again just logs in.
    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "phone": "+14155552671" }),
    )
    .await
    .assert_error(429, "rate_limited"); // the 30 s resend cooldown
    app.pool
        .execute("UPDATE otp_throttle SET last_sent_at = last_sent_at - INTERVAL 1 MINUTE")
        .await
        .unwrap();
    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "phone": "+14155552671" }),
    )
    .await
    .data();
    let code = outbox.sms.next().await.code();
    let res = app
        .post(
            "/api/auth/verify-otp-register",
            None,
            verify_body("acme", "+14155552671", &code),
        )
        .await;
    assert_eq!(res.data()["created"], json!(false));
    assert_eq!(res.data()["user"]["id"], json!(id));
}

#[tokio::test]
async fn a_tenant_can_close_self_registration() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.settings(&admin, json!({ "allowSelfRegistration": false }))
        .await;

    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678" }),
    )
    .await
    .assert_error(403, "registration_closed");
}

#[tokio::test]
async fn a_code_takes_a_pre_registered_account_from_whoever_registered_it() {
    let (app, outbox) = app_with_outbox().await;
    app.tenant("acme").await;
    let squatter = app
        .post(
            "/api/auth/register",
            None,
            json!({ "tenant": "acme", "name": "Squatter", "email": "victim@mail.test", "password": "squatter pass" }),
        )
        .await;
    let squatter = squatter.data()["accessToken"].as_str().unwrap().to_owned();
    outbox.mail.next().await; // the verification link, which the victim ignores

    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "email": "victim@mail.test" }),
    )
    .await
    .data();
    let code = outbox.mail.next().await.code();
    let res = app
        .post(
            "/api/auth/verify-otp-register",
            None,
            json!({ "tenant": "acme", "email": "victim@mail.test", "code": code }),
        )
        .await;
    assert_eq!(res.data()["created"], json!(false));
    assert_eq!(res.data()["user"]["emailVerified"], json!(true));

    app.get("/api/auth/me", &squatter)
        .await
        .assert_error(401, "session_revoked");
    let login =
        json!({ "tenant": "acme", "email": "victim@mail.test", "password": "squatter pass" });
    app.post("/api/auth/login", None, login)
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test]
async fn a_refused_registration_does_not_spend_the_code() {
    let (app, outbox) = app_with_outbox().await;
    app.tenant("acme").await;
    let email = format!("a@{}.{}.test", "d".repeat(60), "e".repeat(60));
    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "email": email }),
    )
    .await
    .data();
    let code = outbox.mail.next().await.code();
    // Named after a destination too long for a name: refused before the code is checked.
    app.post(
        "/api/auth/verify-otp-register",
        None,
        json!({ "tenant": "acme", "email": email, "code": code }),
    )
    .await
    .assert_error(422, "validation_failed");
    let named = json!({ "tenant": "acme", "email": email, "code": code, "name": "Long Domain" });
    app.post("/api/auth/verify-otp-register", None, named)
        .await
        .data();
}

#[tokio::test]
async fn closing_registration_also_stops_codes_already_sent() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678" }),
    )
    .await
    .data();
    let code = outbox.sms.next().await.code();
    let admin = app.login_admin(&tenant).await;
    app.settings(&admin, json!({ "allowSelfRegistration": false }))
        .await;
    app.post(
        "/api/auth/verify-otp-register",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678", "code": code }),
    )
    .await
    .assert_error(403, "registration_closed");
}
