//! Logging in by code: by SMS and by email, the seeds' direct paths, bad
//! destinations, and answers that reveal neither accounts nor deliveries.

use std::time::Duration;

use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use super::{user_with_phone, verify_body};
use crate::{
    helpers::TestApp,
    outbox::{SMS_SECRET, app_with_outbox},
};

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
async fn the_seeds_direct_code_paths_work_too() {
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
async fn a_login_code_answer_does_not_wait_for_or_reveal_delivery() {
    // SMTP points at a closed port: every delivery fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(|c| {
        c.smtp_url = Some(samvad::config::Secret::new(format!("smtp://{closed}")))
    })
    .await;
    let tenant = app.tenant("acme").await;
    app.participant(&tenant, ParticipantType::User, "Known")
        .await;

    let known = app
        .post(
            "/api/auth/send-otp-login",
            None,
            json!({ "tenant": "acme", "email": "known@acme.test" }),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/send-otp-login",
            None,
            json!({ "tenant": "acme", "email": "ghost@acme.test" }),
        )
        .await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.data()["expiresIn"], unknown.data()["expiresIn"]);
    let forgot = |email: &str| {
        app.post(
            "/api/auth/forgot-password",
            None,
            json!({ "tenant": "acme", "email": email }),
        )
    };
    assert_eq!(
        forgot("known@acme.test").await.body,
        forgot("ghost@acme.test").await.body
    );

    // The failed delivery withdraws the code: asking again soon works.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = app
            .post(
                "/api/auth/send-otp-login",
                None,
                json!({ "tenant": "acme", "email": "known@acme.test" }),
            )
            .await;
        if again.status.is_success() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cooldown was not lifted: {}",
            again.body
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn an_admin_created_account_keeps_its_password_after_a_code_login() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    let (_, email) = app
        .participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    app.post(
        "/api/auth/send-otp-login",
        None,
        json!({ "tenant": "acme", "email": email }),
    )
    .await
    .data();
    let code = outbox.mail.next().await.code();
    app.post(
        "/api/auth/verify-otp-login",
        None,
        json!({ "tenant": "acme", "email": email, "code": code }),
    )
    .await
    .data();
    app.login(&tenant, &email).await;
}

#[tokio::test]
async fn a_changed_email_is_unverified_and_a_phone_login_verifies_no_email() {
    let (app, outbox) = app_with_outbox().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let created = app
        .post(
            "/api/participants",
            Some(&admin.access),
            json!({ "type": "user", "name": "P", "phone": "+919812345678" }),
        )
        .await;
    let id = created.data()["id"].as_str().unwrap().to_owned();
    app.post(
        "/api/auth/send-otp-login",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678" }),
    )
    .await
    .data();
    let code = outbox.sms.next().await.code();
    let login = app
        .post(
            "/api/auth/verify-otp-login",
            None,
            json!({ "tenant": "acme", "phone": "+919812345678", "code": code }),
        )
        .await;
    assert_eq!(login.data()["user"]["phoneVerified"], json!(true));
    assert_eq!(
        login.data()["user"]["emailVerified"],
        json!(false),
        "no email, nothing verified"
    );

    let changed = app
        .patch(
            &format!("/api/participants/{id}"),
            &admin.access,
            json!({ "phone": "+919812345679" }),
        )
        .await;
    assert_eq!(changed.data()["phoneVerified"], json!(false));
}
