//! Who gets a message's push, and what it says.

use reqwest::Method;
use serde_json::json;

use super::{WAIT, device, outcomes, push_world, quiesced, unread_in_conversations};

#[tokio::test]
async fn an_offline_astrologer_gets_one_push_for_three_messages_with_the_right_badge() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    // The sender's own phone never hears of what they sent.
    device(&w.app, &w.user, "fcm", "uma-phone", false).await;
    let conversation = w.open(&w.user, &w.astro).await;

    for text in ["hello", "are you there?", "my birth time is 6:10"] {
        w.send(&w.user, &conversation, text).await;
    }

    let push = w.fcm.next_message(WAIT).await;
    quiesced(&w.app).await;
    assert_eq!(w.fcm.count(), 1, "{:?}", w.fcm.messages());
    assert_eq!(push.token, "astro-phone");
    let m = &push.message;
    assert_eq!(m["notification"]["title"], "Uma");
    assert_eq!(m["notification"]["body"], "my birth time is 6:10");
    assert_eq!(m["data"]["type"], "message");
    assert_eq!(m["data"]["conversationId"], conversation.as_str());
    assert_eq!(m["data"]["seq"], "3");
    assert_eq!(m["data"]["count"], "3");
    // Grouped and collapsed by the notification; the badge is the unread
    // count the conversations' cursors give.
    let tag = &m["android"]["notification"]["tag"];
    assert_eq!(m["android"]["collapse_key"], *tag);
    assert_eq!(
        m["apns"]["payload"]["aps"]["thread-id"]
            .as_str()
            .unwrap()
            .len(),
        32
    );
    let badge = m["android"]["notification"]["notification_count"]
        .as_u64()
        .unwrap();
    assert_eq!(badge, 3);
    assert_eq!(unread_in_conversations(&w, &w.astro).await, badge);
    assert_eq!(w.fcm.attempts("uma-phone"), 0);
    // One OAuth token for the service account, not one per push.
    assert_eq!(w.fcm.token_requests(), 1);
}

#[tokio::test]
async fn apns_alerts_carry_the_headers_and_reuse_one_provider_token() {
    let w = push_world().await;
    let token = crate::helpers::push::apns::device_token("astro-iphone");
    device(&w.app, &w.astro, "apns", &token, false).await;
    let to_astro = w.open(&w.user, &w.astro).await;
    let to_astro_too = w.open(&w.admin, &w.astro).await;

    w.send(&w.user, &to_astro, "first").await;
    let first = w.apns.wait_for(1, WAIT).await.remove(0);
    w.send(&w.admin, &to_astro_too, "second").await;
    let second = w.apns.wait_for(2, WAIT).await.remove(1);

    assert_eq!(first.device_token, token);
    assert_eq!(first.header("apns-push-type"), Some("alert"));
    assert_eq!(
        first.header("apns-topic"),
        Some(crate::helpers::push::APNS_BUNDLE_ID)
    );
    assert_eq!(first.header("apns-priority"), Some("10"));
    assert_eq!(first.header("apns-collapse-id").map(str::len), Some(32));
    assert_ne!(
        first.header("apns-collapse-id"),
        second.header("apns-collapse-id")
    );
    assert_eq!(first.body["aps"]["alert"]["title"], "Uma");
    assert_eq!(first.body["aps"]["alert"]["body"], "first");
    assert_eq!(first.body["aps"]["badge"], 1);
    assert_eq!(second.body["aps"]["badge"], 2);
    assert_eq!(second.body["conversationId"], to_astro_too.as_str());
    assert_eq!(w.apns.provider_tokens(), 1);
}

#[tokio::test]
async fn a_connected_astrologer_or_one_back_within_the_grace_gets_no_push() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    let conversation = w.open(&w.user, &w.astro).await;

    // Offline when the message comes, back (socket open) within the grace.
    w.send(&w.user, &conversation, "hello").await;
    crate::notifications::settled(&w.app).await;
    w.connected(&w.astro).await;
    quiesced(&w.app).await;
    assert_eq!(
        outcomes(&w.app, &w.astro).await,
        vec![("skipped".into(), Some("online".into()))]
    );

    // Connected all along: not even an inbox entry, so no push.
    w.send(&w.user, &conversation, "still there?").await;
    quiesced(&w.app).await;
    assert_eq!(outcomes(&w.app, &w.astro).await.len(), 1);
    assert_eq!(w.fcm.count(), 0);
}

#[tokio::test]
async fn muted_quiet_hours_and_push_none_get_no_push_and_say_why() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    let conversation = w.open(&w.user, &w.astro).await;
    let preferences = |body| {
        w.call(
            &w.astro,
            Method::PUT,
            "/api/notifications/preferences",
            Some(body),
        )
    };

    // Quiet hours from an hour ago to an hour from now (UTC).
    let clock = |minutes: i64| {
        let m = minutes.rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    let now = chrono::Utc::now();
    let minutes = i64::from(chrono::Timelike::hour(&now) * 60 + chrono::Timelike::minute(&now));
    preferences(json!({ "push": "all",
        "quietHours": { "start": clock(minutes - 60), "end": clock(minutes + 60), "utcOffsetMinutes": 0 } }))
    .await
    .data();
    w.send(&w.user, &conversation, "one").await;
    quiesced(&w.app).await;
    // Nothing at all.
    preferences(json!({ "push": "none" })).await.data();
    w.call(&w.astro, Method::PUT, "/api/notifications/read-all", None)
        .await
        .data();
    w.send(&w.user, &conversation, "two").await;
    quiesced(&w.app).await;
    // Mentions and calls only: a plain message is neither.
    preferences(json!({ "push": "mentions_and_calls" }))
        .await
        .data();
    w.call(&w.astro, Method::PUT, "/api/notifications/read-all", None)
        .await
        .data();
    w.send(&w.user, &conversation, "three").await;
    quiesced(&w.app).await;
    let skipped: Vec<_> = outcomes(&w.app, &w.astro)
        .await
        .into_iter()
        .map(|o| o.1)
        .collect();
    assert_eq!(
        skipped,
        [
            Some("quiet_hours"),
            Some("preferences"),
            Some("preferences")
        ]
        .map(|s| s.map(String::from))
    );

    // Muted: no inbox entry, so no push.
    preferences(json!({ "push": "all" })).await.data();
    w.call(
        &w.astro,
        Method::POST,
        &format!("/api/conversations/{conversation}/mute"),
        Some(json!({ "muted": true })),
    )
    .await
    .data();
    w.send(&w.user, &conversation, "four").await;
    quiesced(&w.app).await;
    assert_eq!(outcomes(&w.app, &w.astro).await.len(), 3);
    assert_eq!(w.fcm.count(), 0);
}

#[tokio::test]
async fn a_tenant_can_hide_message_text_in_pushes() {
    let w = push_world().await;
    w.settings(json!({ "pushHideText": true })).await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    let conversation = w.open(&w.user, &w.astro).await;

    w.send(&w.user, &conversation, "my secret birth chart")
        .await;

    let push = w.fcm.next_message(WAIT).await;
    assert_eq!(push.message["notification"]["body"], "New message");
    assert_eq!(push.message["notification"]["title"], "Uma");
    assert!(!push.message.to_string().contains("secret"));
}
