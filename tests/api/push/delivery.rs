//! Delivery: retries after 5xx/429 honouring Retry-After, dead tokens
//! forgotten, the delivery log, and each push sent once per device.

use std::time::Duration;

use super::{WAIT, deliveries, device, push_world, quiesced};

#[tokio::test]
async fn unavailable_providers_are_retried_after_their_retry_after() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    w.fcm.fail_times("astro-phone", 2, 503, Some(1));
    let conversation = w.open(&w.user, &w.astro).await;

    w.send(&w.user, &conversation, "hello").await;

    let push = w.fcm.next_message(WAIT).await;
    assert_eq!(push.message["notification"]["body"], "hello");
    let log = w.fcm.attempt_log("astro-phone");
    assert_eq!(
        log.iter().map(|a| a.status).collect::<Vec<_>>(),
        [503, 503, 200]
    );
    for pair in log.windows(2) {
        let waited = pair[1].at - pair[0].at;
        assert!(
            waited >= Duration::from_millis(950),
            "retried after {waited:?}"
        );
    }
    quiesced(&w.app).await;
    let list = deliveries(&w, "").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["state"], "sent");
    assert_eq!(list[0]["attempts"], 3);
    assert_eq!(list[0]["statusCode"], 200);
    assert_eq!(list[0]["provider"], "fcm");
    assert_eq!(list[0]["kind"], "alert");
}

#[tokio::test]
async fn a_provider_that_keeps_failing_is_given_up_with_the_reason() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    w.fcm.fail_times("astro-phone", 100, 429, Some(0));
    // Attempts are spaced out by backoff; bring each one forward.
    let conversation = w.open(&w.user, &w.astro).await;
    w.send(&w.user, &conversation, "hello").await;

    for _ in 0..400 {
        sqlx::query(
            "UPDATE push_deliveries SET next_at = UTC_TIMESTAMP(3) WHERE state = 'pending'",
        )
        .execute(&w.app.pool)
        .await
        .unwrap();
        if !deliveries(&w, "?state=failed").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = deliveries(&w, "?state=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 6);
    assert_eq!(failed[0]["statusCode"], 429);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("gave up after 6 attempts: QUOTA_EXCEEDED"),
        "{error}"
    );
    assert_eq!(w.fcm.attempts("astro-phone"), 6);
    // The device stays: the token was fine.
    let devices = w.app.get("/api/devices", &w.astro.access).await;
    assert_eq!(devices.data().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn tokens_the_providers_call_dead_are_removed() {
    let w = push_world().await;
    let gone = crate::helpers::push::apns::device_token("old-iphone");
    let bad = crate::helpers::push::apns::device_token("garbled");
    device(&w.app, &w.astro, "fcm", "uninstalled", false).await;
    device(&w.app, &w.astro, "apns", &gone, false).await;
    device(&w.app, &w.astro, "apns", &bad, false).await;
    let live = device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    w.fcm.unregistered("uninstalled");
    w.apns.unregistered(&gone);
    w.apns.bad_token(&bad);
    let conversation = w.open(&w.user, &w.astro).await;

    w.send(&w.user, &conversation, "hello").await;

    w.fcm.next_message(WAIT).await;
    quiesced(&w.app).await;
    let devices = w.app.get("/api/devices", &w.astro.access).await;
    let ids: Vec<_> = devices
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    assert_eq!(ids, [serde_json::json!(live)]);
    let failed = deliveries(&w, "?state=failed").await;
    let mut errors: Vec<_> = failed
        .iter()
        .map(|d| d["error"].as_str().unwrap().to_owned())
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            "bad_token: BadDeviceToken",
            "bad_token: UNREGISTERED",
            "bad_token: Unregistered"
        ]
    );
    // One attempt each: a dead token is not retried.
    assert_eq!(w.fcm.attempts("uninstalled"), 1);
    assert_eq!(w.apns.attempts(&gone), 1);
}

#[tokio::test]
async fn sent_is_final_and_a_claim_a_crash_left_is_retried_with_the_same_collapse_key() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    let conversation = w.open(&w.user, &w.astro).await;
    w.send(&w.user, &conversation, "hello").await;
    w.fcm.next_message(WAIT).await;
    quiesced(&w.app).await;

    // A sent delivery is final: however often the sender runs, nothing more.
    for _ in 0..3 {
        assert_eq!(w.app.core.send_pushes(100).await.unwrap(), 0);
        assert_eq!(w.app.core.expand_pushes(100).await.unwrap(), 0);
    }
    assert_eq!(w.fcm.count(), 1);

    // A claim a crash left behind is taken up again after a while.
    sqlx::query(
        "UPDATE push_deliveries SET state = 'sending', claimed_at = UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE",
    )
    .execute(&w.app.pool)
    .await
    .unwrap();
    let again = w.fcm.next_message(WAIT).await;
    quiesced(&w.app).await;
    assert_eq!(w.fcm.count(), 2);
    // With the same collapse key, so the phone shows it once.
    let first = &w.fcm.messages()[0].message;
    assert_eq!(
        again.message["android"]["collapse_key"],
        first["android"]["collapse_key"]
    );
}

#[tokio::test]
async fn a_push_waiting_to_retry_never_reaches_whoever_logs_in_on_that_phone_next() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "shared-phone", false).await;
    w.fcm.fail_times("shared-phone", 1, 503, Some(2));
    let conversation = w.open(&w.user, &w.astro).await;
    w.send(&w.user, &conversation, "private words").await;
    w.fcm.wait_for_attempts("shared-phone", 1, WAIT).await;

    // Before the retry, someone else logs in on that phone: its token moves.
    device(&w.app, &w.stranger, "fcm", "shared-phone", false).await;

    quiesced(&w.app).await;
    assert_eq!(w.fcm.count(), 0, "{:?}", w.fcm.messages());
    let dropped = deliveries(&w, "?state=dropped").await;
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0]["error"], "device_gone");
}

#[tokio::test]
async fn the_fcm_access_token_is_reused_until_shortly_before_it_expires() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    let to_astro = w.open(&w.user, &w.astro).await;
    let to_astro_too = w.open(&w.admin, &w.astro).await;

    w.send(&w.user, &to_astro, "one").await;
    w.fcm.wait_for(1, WAIT).await;
    w.send(&w.admin, &to_astro_too, "two").await;
    w.fcm.wait_for(2, WAIT).await;
    assert_eq!(w.fcm.token_requests(), 1, "one token for both pushes");

    // Tokens good for 301 s are renewed 300 s early: after a second.
    w.fcm.set_expires_in(301);
    w.fcm.revoke_tokens();
    w.app
        .call(
            reqwest::Method::PUT,
            "/api/notifications/read-all",
            Some(&w.astro.access),
            None,
        )
        .await
        .data();
    w.send(&w.user, &to_astro, "three").await;
    w.fcm.wait_for(3, WAIT).await;
    assert_eq!(w.fcm.token_requests(), 2, "the revoked token was replaced");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    w.send(&w.admin, &to_astro_too, "four").await;
    w.fcm.wait_for(4, WAIT).await;
    assert_eq!(w.fcm.token_requests(), 3, "an expiring token is renewed");
}
