//! What a code survives: at most five tries, expiry, one use, its own
//! tenant only; the cooldown between codes and racing requests.

use serde_json::json;
use sqlx::Executor;

use super::{user_with_phone, verify_body};
use crate::outbox::app_with_outbox;

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
        app.pool
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
    app.pool
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
    app.pool
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
