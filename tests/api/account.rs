//! Accounts by email: registration with a verification link, password
//! reset by link, password change. Links are read from real emails.

use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::{
    helpers::{PASSWORD, TestApp},
    outbox::app_with_outbox,
};

#[tokio::test]
async fn registering_emails_a_link_that_verifies_the_address_once() {
    let (app, outbox) = app_with_outbox().await;
    app.tenant("acme").await;

    let res = app
        .post(
            "/api/auth/register",
            None,
            json!({ "tenant": "acme", "name": "Ravi", "email": "Ravi@Mail.test", "password": "long enough 1" }),
        )
        .await;
    let access = res.data()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(res.data()["user"]["email"], json!("ravi@mail.test"));

    let mail = outbox.mail.next().await;
    assert_eq!(mail.to, ["ravi@mail.test"]);
    assert!(mail.subject().contains("Tenant acme"));
    let link = mail.link("/account/verify-email");
    assert!(link.starts_with(&app.base), "{link} uses SAMVAD_PUBLIC_URL");

    // Opening the link (as mail scanners do) only shows a button.
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(page.text().await.unwrap().contains(r#"method="post""#));
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let confirm = || {
        reqwest::Client::new()
            .post(app.url("/account/verify-email"))
            .form(&[("token", token.as_str())])
            .send()
    };
    assert_eq!(confirm().await.unwrap().status().as_u16(), 200);
    assert_eq!(
        confirm().await.unwrap().status().as_u16(),
        400,
        "a link works once"
    );

    let me = app.get("/api/users/profile", &access).await;
    assert_eq!(me.data()["emailVerified"], json!(true));
    app.post("/api/auth/resend-verification", Some(&access), json!({}))
        .await
        .assert_error(409, "already_verified");
}

#[tokio::test]
async fn registration_refuses_a_taken_email_and_bad_fields() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let body = |email: &str, password: &str| json!({ "tenant": "acme", "name": "R", "email": email, "password": password });
    app.post(
        "/api/auth/register",
        None,
        body(&tenant.admin_email, "long enough 1"),
    )
    .await
    .assert_error(409, "email_taken");
    app.post("/api/auth/register", None, body("x@y.test", "short"))
        .await
        .assert_error(422, "validation_failed");
    app.post("/api/auth/register", None, body("nope", "long enough 1"))
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    let (_, email) = app
        .participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let before = app.login(&tenant, &email).await;

    app.post(
        "/api/auth/forgot-password",
        None,
        json!({ "tenant": "acme", "email": email }),
    )
    .await
    .data();
    let mail = outbox.mail.next().await;
    let link = mail.link("/account/reset-password");
    let token = link.split("token=").nth(1).unwrap().to_owned();

    // The link opens a form; submitting it sets the password.
    let form = reqwest::get(&link).await.unwrap().text().await.unwrap();
    assert!(form.contains(r#"name="password""#) && form.contains(&token));
    let client = reqwest::Client::new();
    let mismatch = client
        .post(app.url("/account/reset-password"))
        .form(&[
            ("token", token.as_str()),
            ("password", "new password 1"),
            ("confirm", "other password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status().as_u16(), 422);
    let done = client
        .post(app.url("/account/reset-password"))
        .form(&[
            ("token", token.as_str()),
            ("password", "new password 1"),
            ("confirm", "new password 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 200);

    app.get("/api/auth/me", &before.access)
        .await
        .assert_error(401, "session_revoked");
    let old = json!({ "tenant": "acme", "email": email, "password": PASSWORD });
    app.post("/api/auth/login", None, old)
        .await
        .assert_error(401, "invalid_credentials");
    let new = json!({ "tenant": "acme", "email": email, "password": "new password 1" });
    app.post("/api/auth/login", None, new).await.data();
    let again = json!({ "token": token, "password": "third password 1" });
    app.post("/api/auth/reset-password", None, again)
        .await
        .assert_error(400, "invalid_token");
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_unknown_addresses_and_sends_nothing() {
    let (app, outbox) = app_with_outbox().await;
    app.tenant("acme").await;
    let res = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "tenant": "acme", "email": "ghost@acme.test" }),
        )
        .await;
    assert_eq!(res.data(), &json!({ "done": true }));
    assert!(outbox.mail.is_empty().await);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_only() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let here = app.login_admin(&tenant).await;
    let elsewhere = app.login_admin(&tenant).await;

    let wrong = json!({ "currentPassword": "not it", "newPassword": "brand new pass" });
    // Not a 401: clients read those as "logged out".
    app.post("/api/auth/change-password", Some(&here.access), wrong)
        .await
        .assert_error(422, "wrong_password");
    let body = json!({ "currentPassword": PASSWORD, "newPassword": "brand new pass" });
    app.post("/api/auth/change-password", Some(&here.access), body)
        .await
        .data();

    app.get("/api/auth/me", &here.access).await.data();
    app.get("/api/auth/me", &elsewhere.access)
        .await
        .assert_error(401, "session_revoked");
}

#[tokio::test]
async fn tampered_or_foreign_link_tokens_are_refused() {
    let app = TestApp::spawn().await;
    for token in [
        "",
        "abc",
        "x.y.z",
        &format!(
            "{}.{}.{}",
            uuid::Uuid::now_v7().simple(),
            uuid::Uuid::now_v7().simple(),
            "A".repeat(43)
        ),
    ] {
        app.post("/api/auth/verify-email", None, json!({ "token": token }))
            .await
            .assert_error(400, "invalid_token");
    }
}

#[tokio::test]
async fn a_suspended_tenant_takes_no_registrations_and_sends_no_mail() {
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
    let register = json!({ "tenant": "acme", "name": "R", "email": "r@mail.test", "password": "long enough 1" });
    app.post("/api/auth/register", None, register)
        .await
        .assert_error(403, "tenant_suspended");
    let forgot = json!({ "tenant": "acme", "email": tenant.admin_email });
    app.post("/api/auth/forgot-password", None, forgot)
        .await
        .assert_error(403, "tenant_suspended");
}
