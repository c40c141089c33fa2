//! One-time codes by SMS (a signed webhook to a gateway) and by email (a
//! real SMTP server in this process): login, registration, brute force,
//! expiry, reuse, other tenants, cooldown, and saying nothing about accounts.

use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};
use sqlx::Executor;

use crate::{
    helpers::{TestApp, TestTenant},
    outbox::{Outbox, SMS_SECRET},
};

async fn app_with_outbox() -> (TestApp, Outbox) {
    let outbox = Outbox::start().await;
    let app = TestApp::spawn_with(|c| outbox.configure(c)).await;
    (app, outbox)
}

/// Creates a user with a phone (by the admin) and returns the phone.
async fn user_with_phone(app: &TestApp, tenant: &TestTenant, phone: &str) {
    let admin = app.login_admin(tenant).await;
    let body = json!({ "type": "user", "name": "Phone User", "phone": phone });
    app.post("/api/participants", Some(&admin.access), body)
        .await
        .data();
}

fn verify_body(tenant: &str, phone: &str, code: &str) -> Value {
    json!({ "tenant": tenant, "phone": phone, "code": code, "deviceName": "Pixel" })
}

#[tokio::test]
async fn a_user_logs_in_with_a_code_sent_by_signed_sms() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    user_with_phone(&app, &tenant, "+919812345678").await;

    let sent = app
        .post(
            "/api/auth/send-otp-login",
            None,
            json!({ "tenant": "acme", "phone": "09812345678" }),
        )
        .await;
    let data = sent.data();
    assert_eq!(data["channel"], json!("sms"));
    assert_eq!(data["destination"], json!("+91******5678"));
    assert_eq!(data["expiresIn"], json!(300));

    let sms = outbox.sms.next().await;
    assert_eq!(sms.body["to"], json!("+919812345678"));
    assert_eq!(sms.body["tenant"], json!("acme"));
    assert!(
        sms.body["text"].as_str().unwrap().contains("Tenant acme"),
        "{}",
        sms.body
    );
    let expected = samvad::delivery::sms_signature(
        SMS_SECRET.as_bytes(),
        sms.timestamp.parse().unwrap(),
        &sms.raw,
    );
    assert_eq!(sms.signature, expected, "the webhook is signed");

    let res = app
        .post(
            "/api/auth/verify-otp-login",
            None,
            verify_body("acme", "+919812345678", &sms.code()),
        )
        .await;
    let login = res.data();
    assert_eq!(login["user"]["phone"], json!("+919812345678"));
    let me = app
        .get("/api/auth/me", login["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(me.data()["name"], json!("Phone User"));
}

#[tokio::test]
async fn a_user_logs_in_with_a_code_read_from_a_real_email() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    app.participant(&tenant, ParticipantType::User, "Mail User")
        .await;

    app.post(
        "/api/auth/send-otp-login",
        None,
        json!({ "tenant": "acme", "email": "mail.user@acme.test" }),
    )
    .await
    .data();

    let mail = outbox.mail.next().await;
    assert_eq!(mail.to, ["mail.user@acme.test"]);
    assert!(mail.is_multipart_alternative(), "text and HTML parts");
    assert!(mail.subject().contains("Tenant acme"), "{}", mail.subject());
    let code = mail.code();
    assert!(mail.html().contains(&code) && mail.html().contains("Tenant acme"));
    let body = json!({ "tenant": "acme", "email": "mail.user@acme.test", "code": code });
    let res = app.post("/api/auth/verify-otp-login", None, body).await;
    assert_eq!(res.data()["user"]["email"], json!("mail.user@acme.test"));
}

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
    app.core
        .pool()
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
async fn the_sixth_try_fails_even_with_the_right_code() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    user_with_phone(&app, &tenant, "+919812345678").await;
    app.post(
        "/api/auth/send-otp-login",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678" }),
    )
    .await
    .data();
    let code = outbox.sms.next().await.code();
    let wrong = if code == "000000" { "111111" } else { "000000" };

    for _ in 0..5 {
        app.post(
            "/api/auth/verify-otp-login",
            None,
            verify_body("acme", "+919812345678", wrong),
        )
        .await
        .assert_error(401, "invalid_code");
    }
    app.post(
        "/api/auth/verify-otp-login",
        None,
        verify_body("acme", "+919812345678", &code),
    )
    .await
    .assert_error(401, "invalid_code");
}

#[tokio::test]
async fn expired_used_and_superseded_codes_fail() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    user_with_phone(&app, &tenant, "+919812345678").await;
    let send = || {
        app.post(
            "/api/auth/send-otp-login",
            None,
            json!({ "tenant": "acme", "phone": "+919812345678" }),
        )
    };
    let age_codes = || async {
        app.core
            .pool()
            .execute("UPDATE otp_throttle SET last_sent_at = last_sent_at - INTERVAL 1 MINUTE")
            .await
            .unwrap();
    };

    // Used: a code works once.
    send().await.data();
    let code = outbox.sms.next().await.code();
    app.post(
        "/api/auth/verify-otp-login",
        None,
        verify_body("acme", "+919812345678", &code),
    )
    .await
    .data();
    app.post(
        "/api/auth/verify-otp-login",
        None,
        verify_body("acme", "+919812345678", &code),
    )
    .await
    .assert_error(401, "invalid_code");

    // Superseded: a newer code replaces the older one.
    age_codes().await;
    send().await.data();
    let first = outbox.sms.next().await.code();
    age_codes().await;
    send().await.data();
    let second = outbox.sms.next().await.code();
    if first != second {
        app.post(
            "/api/auth/verify-otp-login",
            None,
            verify_body("acme", "+919812345678", &first),
        )
        .await
        .assert_error(401, "invalid_code");
    }

    // Expired: past its lifetime a code fails.
    app.core
        .pool()
        .execute("UPDATE otp_codes SET expires_at = NOW(3) - INTERVAL 1 SECOND")
        .await
        .unwrap();
    app.post(
        "/api/auth/verify-otp-login",
        None,
        verify_body("acme", "+919812345678", &second),
    )
    .await
    .assert_error(401, "invalid_code");
}

#[tokio::test]
async fn a_code_of_another_tenant_fails() {
    let (app, outbox) = app_with_outbox().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    user_with_phone(&app, &acme, "+919812345678").await;
    user_with_phone(&app, &other, "+919812345678").await;

    app.post(
        "/api/auth/send-otp-login",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678" }),
    )
    .await
    .data();
    let code = outbox.sms.next().await.code();

    app.post(
        "/api/auth/verify-otp-login",
        None,
        verify_body("other", "+919812345678", &code),
    )
    .await
    .assert_error(401, "invalid_code");
    app.post(
        "/api/auth/verify-otp-login",
        None,
        verify_body("acme", "+919812345678", &code),
    )
    .await
    .data();
}

#[tokio::test]
async fn asking_a_login_code_for_an_unknown_account_answers_the_same_and_sends_nothing() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    user_with_phone(&app, &tenant, "+919812345678").await;

    let known = app
        .post(
            "/api/auth/send-otp-login",
            None,
            json!({ "tenant": "acme", "phone": "+919812345678" }),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/send-otp-login",
            None,
            json!({ "tenant": "acme", "phone": "+919812345679" }),
        )
        .await;

    let strip = |v: &Value| {
        let mut v = v.clone();
        v["destination"] = json!("");
        v
    };
    assert_eq!(strip(known.data()), strip(unknown.data()));
    outbox.sms.next().await; // the known one
    assert!(
        outbox.sms.is_empty().await,
        "nothing goes to an unknown number"
    );
    // Both get the same cooldown, too.
    app.post(
        "/api/auth/send-otp-login",
        None,
        json!({ "tenant": "acme", "phone": "+919812345679" }),
    )
    .await
    .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn the_seeds_direct_paths_work_too() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    user_with_phone(&app, &tenant, "+919812345678").await;

    app.post(
        "/auth/send-otp-login",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678" }),
    )
    .await
    .data();
    let code = outbox.sms.next().await.code();
    let res = app
        .post(
            "/auth/verify-otp-login",
            None,
            verify_body("acme", "+919812345678", &code),
        )
        .await;
    let access = res.data()["accessToken"].as_str().unwrap().to_owned();
    app.get("/auth/me", &access).await.data();
    let body = json!({ "tenant": "acme", "email": tenant.admin_email, "password": crate::helpers::PASSWORD });
    app.post("/auth/login", None, body).await.data();
}

#[tokio::test]
async fn requests_with_bad_or_missing_destinations_are_refused_clearly() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    for body in [
        json!({ "tenant": "acme" }),
        json!({ "tenant": "acme", "phone": "+919812345678", "email": "a@b.test" }),
        json!({ "tenant": "acme", "phone": "12" }),
        json!({ "tenant": "acme", "email": "nope" }),
    ] {
        app.post("/api/auth/send-otp-login", None, body)
            .await
            .assert_error(422, "validation_failed");
    }
    app.post(
        "/api/auth/send-otp-login",
        None,
        json!({ "tenant": "ghost", "phone": "+919812345678" }),
    )
    .await
    .assert_error(404, "not_found");
    for code in ["", "12345", "abcdef", "1234567"] {
        app.post(
            "/api/auth/verify-otp-login",
            None,
            verify_body("acme", "+919812345678", code),
        )
        .await
        .assert_error(401, "invalid_code");
    }
}

#[tokio::test]
async fn a_tenant_can_close_self_registration() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.patch(
        "/api/settings",
        &admin.access,
        json!({ "allowSelfRegistration": false }),
    )
    .await
    .data();

    app.post(
        "/api/auth/send-otp",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678" }),
    )
    .await
    .assert_error(403, "registration_closed");
}
