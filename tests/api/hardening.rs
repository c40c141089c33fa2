//! Regressions for what reviews of the identity code found: escalation
//! through API keys, identity mix-ups of old tokens, enumeration by timing
//! or failures, lockouts, limit bypasses, races, takeovers.

use std::time::Duration;

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};
use sqlx::Executor;

use crate::{
    helpers::{PASSWORD, TestApp},
    outbox::Outbox,
};

async fn app_with_outbox() -> (TestApp, Outbox) {
    let outbox = Outbox::start().await;
    let app = TestApp::spawn_with(|c| outbox.configure(c)).await;
    (app, outbox)
}

async fn key_with(app: &TestApp, admin: &str, scopes: &[&str]) -> String {
    let res = app
        .post(
            "/api/api-keys",
            Some(admin),
            json!({ "name": "k", "scopes": scopes }),
        )
        .await;
    res.data()["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_api_key_cannot_create_or_change_admins() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let key = key_with(&app, &admin.access, &["write", "admin"]).await;
    let with_key = |method: Method, path: &str, body: Value| {
        app.send(app.raw(method, path).header("x-api-key", &key).json(&body))
    };

    let mint =
        json!({ "type": "admin", "name": "Mallory", "email": "m@evil.test", "password": PASSWORD });
    with_key(Method::POST, "/api/participants", mint)
        .await
        .assert_error(403, "forbidden");
    let hijack = json!({ "email": "attacker@evil.test" });
    with_key(
        Method::PATCH,
        &format!("/api/participants/{}", tenant.admin_id),
        hijack,
    )
    .await
    .assert_error(403, "forbidden");
    with_key(
        Method::POST,
        &format!("/api/participants/{}/block", tenant.admin_id),
        json!({}),
    )
    .await
    .assert_error(403, "forbidden");
    // Users are the key's to manage.
    with_key(
        Method::POST,
        "/api/participants",
        json!({ "type": "user", "name": "U" }),
    )
    .await
    .data();
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

#[tokio::test]
async fn legacy_ids_are_unique_case_sensitively_and_duplicates_are_409() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let with = |legacy: &str| json!({ "type": "user", "name": "U", "legacyId": legacy });
    app.post("/api/participants", Some(&admin.access), with("abc"))
        .await
        .data();
    app.post("/api/participants", Some(&admin.access), with("ABC"))
        .await
        .data();
    app.post("/api/participants", Some(&admin.access), with("abc"))
        .await
        .assert_error(409, "legacy_id_taken");
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
async fn waiting_out_a_cooldown_costs_nothing_of_the_destinations_limit() {
    let (app, outbox) = app_with_outbox().await;
    app.tenant("acme").await;
    let send = || {
        app.post(
            "/api/auth/send-otp",
            None,
            json!({ "tenant": "acme", "phone": "+919812345678" }),
        )
    };
    send().await.data();
    outbox.sms.next().await;
    for _ in 0..10 {
        send().await.assert_error(429, "rate_limited");
    }
    app.core
        .pool()
        .execute("UPDATE otp_throttle SET last_sent_at = last_sent_at - INTERVAL 1 MINUTE")
        .await
        .unwrap();
    send().await.data();
}

#[tokio::test]
async fn racing_code_requests_send_one_code_and_never_fail() {
    let (app, outbox) = app_with_outbox().await;
    app.tenant("acme").await;
    let body = json!({ "tenant": "acme", "phone": "+919812345678" });
    let answers = futures_join(5, || app.post("/api/auth/send-otp", None, body.clone())).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    outbox.sms.next().await;
    assert!(outbox.sms.is_empty().await, "one code, one SMS");
}

/// Runs `n` copies of a request at once.
async fn futures_join<F, Fut>(n: usize, make: F) -> Vec<crate::helpers::Res>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = crate::helpers::Res>,
{
    futures::future::join_all((0..n).map(|_| make())).await
}

#[tokio::test]
async fn phone_spellings_share_one_login_limit() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.patch(
        "/api/settings",
        &admin.access,
        json!({ "loginPerAccount": { "max": 3, "perSeconds": 60 } }),
    )
    .await
    .data();
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

#[tokio::test]
async fn one_address_cannot_lock_the_owner_out_and_forwarded_for_is_read_from_the_right() {
    let app = TestApp::spawn_with(|c| c.trust_proxy = true).await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.patch(
        "/api/settings",
        &admin.access,
        json!({ "loginPerAccount": { "max": 3, "perSeconds": 60 } }),
    )
    .await
    .data();
    let (_, email) = app
        .participant(&tenant, ParticipantType::User, "Owner")
        .await;
    let from = |address: &str, password: &str| {
        let body = json!({ "tenant": "acme", "email": email, "password": password });
        // The client may write anything first; the proxy appends the real address last.
        app.send(
            app.raw(Method::POST, "/api/auth/login")
                .header("x-forwarded-for", format!("6.6.6.6, {address}"))
                .json(&body),
        )
    };
    for _ in 0..3 {
        from("10.0.0.1", "wrong password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    from("10.0.0.1", PASSWORD)
        .await
        .assert_error(429, "rate_limited");
    from("10.0.0.2", PASSWORD).await.data();
    let sessions = app.get("/api/auth/sessions", &admin.access).await;
    let _ = sessions.data();
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
    app.patch(
        "/api/settings",
        &admin.access,
        json!({ "allowSelfRegistration": false }),
    )
    .await
    .data();
    app.post(
        "/api/auth/verify-otp-register",
        None,
        json!({ "tenant": "acme", "phone": "+919812345678", "code": code }),
    )
    .await
    .assert_error(403, "registration_closed");
}

#[tokio::test]
async fn the_superadmins_logout_all_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    app.get("/api/platform/me", &root.access).await.data(); // cached as live
    app.call(
        Method::POST,
        "/api/auth/logout-all",
        Some(&root.access),
        None,
    )
    .await
    .data();
    app.get("/api/platform/me", &root.access)
        .await
        .assert_error(401, "session_revoked");
}
