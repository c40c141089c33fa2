//! Push credentials (write-only, checked), broadcasts, and tenancy.

use reqwest::Method;
use serde_json::json;

use super::{WAIT, deliveries, device, push_world, quiesced};
use crate::{
    helpers::push::{CLIENT_EMAIL, PROJECT_ID, keys},
    world::inbox_until,
};

#[tokio::test]
async fn credentials_are_checked_shown_by_their_ids_only_and_removable() {
    let w = push_world().await;
    let admin = Some(w.admin.access.as_str());
    let shown = w.app.get("/api/settings/push", &w.admin.access).await;
    let data = shown.data();
    assert_eq!(data["fcm"]["projectId"], PROJECT_ID);
    assert_eq!(data["fcm"]["clientEmail"], CLIENT_EMAIL);
    assert_eq!(data["apns"]["teamId"], crate::helpers::push::APNS_TEAM_ID);
    assert_eq!(data["apns"]["environment"], "sandbox");
    let text = shown.body.to_string();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("private_key"),
        "{text}"
    );

    let put = |path: &'static str, body| w.app.call(Method::PUT, path, admin, Some(body));
    put(
        "/api/settings/push/fcm",
        json!({ "serviceAccount": "{not json" }),
    )
    .await
    .assert_error(422, "validation_failed");
    let no_key = json!({ "type": "service_account", "project_id": "p", "client_email": "e@x",
                         "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" });
    put(
        "/api/settings/push/fcm",
        json!({ "serviceAccount": no_key.to_string() }),
    )
    .await
    .assert_error(422, "validation_failed");
    let apns = |key: String, team: &str| json!({ "teamId": team, "keyId": "ABC123DEFG", "bundleId": "com.x.app", "key": key });
    put(
        "/api/settings/push/apns",
        apns("not a key".into(), "TEAM123456"),
    )
    .await
    .assert_error(422, "validation_failed");
    // An RSA key is not an APNs key.
    put(
        "/api/settings/push/apns",
        apns(keys().service_account_pem().into(), "TEAM123456"),
    )
    .await
    .assert_error(422, "validation_failed");
    put("/api/settings/push/apns", apns(keys().apns_p8(), "short"))
        .await
        .assert_error(422, "validation_failed");
    // Nothing of that replaced what was set.
    assert_eq!(
        w.app
            .get("/api/settings/push", &w.admin.access)
            .await
            .data()["fcm"]["projectId"],
        PROJECT_ID
    );

    // Participants other than admins may not see or change them.
    w.app
        .get("/api/settings/push", &w.astro.access)
        .await
        .assert_error(403, "forbidden");
    w.app
        .call(
            Method::DELETE,
            "/api/settings/push/fcm",
            Some(&w.user.access),
            None,
        )
        .await
        .assert_error(403, "forbidden");

    w.app
        .call(Method::DELETE, "/api/settings/push/fcm", admin, None)
        .await
        .data();
    w.app
        .call(Method::DELETE, "/api/settings/push/nope", admin, None)
        .await
        .assert_error(404, "not_found");
    let after = w.app.get("/api/settings/push", &w.admin.access).await;
    assert!(after.data()["fcm"].is_null());
    assert_eq!(after.data()["apns"]["keyId"], "ABC123DEFG");
}

#[tokio::test]
async fn another_tenants_admin_sees_none_of_this_tenants_push_and_cannot_reach_its_people() {
    let w = push_world().await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;
    let conversation = w.open(&w.user, &w.astro).await;
    w.send(&w.user, &conversation, "hello").await;
    w.fcm.next_message(WAIT).await;
    quiesced(&w.app).await;
    assert_eq!(deliveries(&w, "").await.len(), 1);

    let tenant_b = w.app.tenant("globex").await;
    let admin_b = w.app.login_admin(&tenant_b).await;
    let seen = w.app.get("/api/push/deliveries", &admin_b.access).await;
    assert_eq!(seen.data(), &json!([]));
    let status = w.app.get("/api/settings/push", &admin_b.access).await;
    assert!(status.data()["fcm"].is_null() && status.data()["apns"].is_null());
    // A broadcast to a participant of another tenant: 404.
    w.app
        .post(
            "/api/notifications/broadcast",
            Some(&admin_b.access),
            json!({ "audience": "participant", "participantId": w.astro.id, "body": "hi" }),
        )
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn a_broadcast_reaches_its_audiences_inbox_and_phones() {
    let w = push_world().await;
    device(&w.app, &w.user, "fcm", "uma-phone", false).await;
    device(&w.app, &w.stranger, "fcm", "sam-phone", false).await;
    device(&w.app, &w.astro, "fcm", "astro-phone", false).await;

    let sent = w
        .app
        .post(
            "/api/notifications/broadcast",
            Some(&w.admin.access),
            json!({ "audience": "users", "body": "Diwali offer: 20% off every consultation" }),
        )
        .await;
    let b = sent.data();
    assert_eq!(b["audience"], "users");
    // The title defaults to the tenant's name.
    let title = b["title"].as_str().unwrap().to_owned();
    assert!(!title.is_empty());

    let pushes = w.fcm.wait_for(2, WAIT).await[..2].to_vec();
    let mut tokens: Vec<_> = pushes.iter().map(|p| p.token.as_str()).collect();
    tokens.sort();
    assert_eq!(tokens, ["sam-phone", "uma-phone"]);
    assert_eq!(pushes[0].message["notification"]["title"], title.as_str());
    assert_eq!(pushes[0].message["data"]["type"], "broadcast");
    let inbox = inbox_until(&w.app, &w.user, |i| !i.is_empty()).await;
    assert_eq!(inbox[0]["type"], "broadcast");
    assert_eq!(inbox[0]["body"], "Diwali offer: 20% off every consultation");
    quiesced(&w.app).await;
    assert_eq!(w.fcm.attempts("astro-phone"), 0);

    // One participant, titled; bad audiences and bodies are 422.
    w.app
        .post(
            "/api/notifications/broadcast",
            Some(&w.admin.access),
            json!({ "audience": "participant", "participantId": w.astro.id,
                    "title": "Schedule", "body": "Your hours start tomorrow" }),
        )
        .await
        .data();
    let push = w.fcm.wait_for(3, WAIT).await.remove(2);
    assert_eq!(push.token, "astro-phone");
    assert_eq!(push.message["notification"]["title"], "Schedule");
    for bad in [
        json!({ "audience": "everyone", "body": "x" }),
        json!({ "audience": "users", "body": "  " }),
        json!({ "audience": "participant", "body": "x" }),
        json!({ "audience": "users", "participantId": w.astro.id, "body": "x" }),
    ] {
        w.app
            .post("/api/notifications/broadcast", Some(&w.admin.access), bad)
            .await
            .assert_error(422, "validation_failed");
    }
    // Not for participants.
    w.app
        .post(
            "/api/notifications/broadcast",
            Some(&w.astro.access),
            json!({ "audience": "users", "body": "buy my course" }),
        )
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_broadcast_to_a_large_audience_reaches_everyone_a_chunk_at_a_time() {
    let w = push_world().await;
    // 1,200 more users, straight into the table (no passwords to hash).
    for _ in 0..2 {
        sqlx::query(
            "INSERT INTO participants (tenant_id, id, type, name, created_at, updated_at)
             WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
             SELECT ?, UNHEX(REPLACE(UUID(), '-', '')), 'user', CONCAT('User ', i),
                    UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) FROM n",
        )
        .bind(w.tenant.id)
        .execute(&w.app.pool)
        .await
        .unwrap();
    }
    let (users,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM participants WHERE tenant_id = ? AND type = 'user' AND NOT blocked",
    )
    .bind(w.tenant.id)
    .fetch_one(&w.app.pool)
    .await
    .unwrap();

    w.app
        .post(
            "/api/notifications/broadcast",
            Some(&w.admin.access),
            json!({ "audience": "users", "body": "New astrologers joined today" }),
        )
        .await
        .data();

    crate::notifications::settled(&w.app).await;
    let (made, people): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT participant_id) FROM notifications WHERE kind = 'broadcast'",
    )
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    assert_eq!((made, people), (users, users));
    let inbox = inbox_until(&w.app, &w.stranger, |i| !i.is_empty()).await;
    assert_eq!(inbox[0]["body"], "New astrologers joined today");
}
