//! Reports: a participant reports a message they can see or a participant;
//! admins see the queue and the message in context, and dismiss, block
//! the participant or delete the message for everyone. Audited; per
//! tenant; a report is settled once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::World;

async fn report(world: &World, who: &crate::helpers::Login, body: Value) -> crate::helpers::Res {
    world
        .app
        .post("/api/reports", Some(&who.access), body)
        .await
}

#[tokio::test]
async fn a_reported_message_is_seen_in_context_and_deleted_for_everyone() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    for n in 1..=8 {
        world
            .send(&world.astro, &conversation, &format!("reading {n}"))
            .await;
    }
    let bad = world
        .send(&world.astro, &conversation, "pay me outside the app")
        .await;
    world.send(&world.user, &conversation, "no thanks").await;

    let made = report(
        &world,
        &world.user,
        json!({ "messageId": bad["id"], "reason": "off_platform", "details": "asked for cash" }),
    )
    .await;
    let r = made.data().clone();
    assert_eq!(r["participantId"], json!(world.astro.id));
    assert_eq!(r["conversationId"], json!(conversation));
    assert_eq!(r["status"], json!("open"));
    // Reporting it again while open gives the same report.
    let again = report(
        &world,
        &world.user,
        json!({ "messageId": bad["id"], "reason": "spam" }),
    )
    .await;
    assert_eq!(again.data()["id"], r["id"]);

    let queue = world
        .app
        .get("/api/reports?status=open", &world.admin.access)
        .await;
    assert_eq!(queue.data().as_array().unwrap().len(), 1);
    let id = r["id"].as_str().unwrap();
    let seen = world
        .app
        .get(&format!("/api/reports/{id}"), &world.admin.access)
        .await;
    let context: Vec<Value> = seen.data()["context"].as_array().unwrap().clone();
    let seqs: Vec<u64> = context.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (4..=10).collect::<Vec<u64>>(),
        "five before, the rest after"
    );
    assert!(context.iter().any(|m| m["id"] == bad["id"]));

    let done = world
        .app
        .post(
            &format!("/api/reports/{id}/delete-message"),
            Some(&world.admin.access),
            json!({}),
        )
        .await;
    assert_eq!(done.data()["status"], json!("actioned"));
    assert_eq!(done.data()["resolution"], json!("message_deleted"));
    assert_eq!(done.data()["resolvedBy"], json!(world.admin.id));
    let history = world.history(&world.user, &conversation).await;
    let gone = history.iter().find(|m| m["id"] == bad["id"]).unwrap();
    assert_eq!(gone["isDeleted"], json!(true));
    assert!(gone["content"].is_null());
    // The report keeps what was reported.
    let kept = world
        .app
        .get(&format!("/api/reports/{id}"), &world.admin.access)
        .await;
    assert_eq!(
        kept.data()["report"]["messageText"],
        json!("pay me outside the app")
    );
    // Settled once.
    world
        .app
        .post(
            &format!("/api/reports/{id}/dismiss"),
            Some(&world.admin.access),
            json!({}),
        )
        .await
        .assert_error(409, "report_closed");
    let audit = world
        .app
        .get("/api/audit-log?limit=100", &world.admin.access)
        .await;
    let actions: Vec<&str> = audit.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"report.create") && actions.contains(&"report.resolve"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_reported_participant_can_be_blocked_or_the_report_dismissed() {
    let world = World::new().await;
    let first = report(
        &world,
        &world.user,
        json!({ "participantId": world.astro.id, "reason": "abuse" }),
    )
    .await;
    let id = first.data()["id"].as_str().unwrap().to_owned();
    let dismissed = world
        .app
        .post(
            &format!("/api/reports/{id}/dismiss"),
            Some(&world.admin.access),
            json!({}),
        )
        .await;
    assert_eq!(dismissed.data()["status"], json!("dismissed"));
    // A message report cannot delete anything here.
    let second = report(
        &world,
        &world.user,
        json!({ "participantId": world.astro.id, "reason": "fraud" }),
    )
    .await;
    assert_ne!(
        second.data()["id"],
        first.data()["id"],
        "a settled report is not reopened"
    );
    let id = second.data()["id"].as_str().unwrap().to_owned();
    world
        .app
        .post(
            &format!("/api/reports/{id}/delete-message"),
            Some(&world.admin.access),
            json!({}),
        )
        .await
        .assert_error(422, "validation_failed");
    let blocked = world
        .app
        .post(
            &format!("/api/reports/{id}/block-participant"),
            Some(&world.admin.access),
            json!({}),
        )
        .await;
    assert_eq!(blocked.data()["resolution"], json!("participant_blocked"));
    let astro = world
        .app
        .get(
            &format!("/api/participants/{}", world.astro.id),
            &world.admin.access,
        )
        .await;
    assert_eq!(astro.data()["blocked"], json!(true));
    // Their sessions ended.
    world
        .app
        .get("/api/conversations", &world.astro.access)
        .await
        .assert_error(401, "session_revoked");
}

#[tokio::test]
async fn reports_are_checked_and_kept_within_the_tenant() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let message = world.send(&world.user, &conversation, "hello").await;
    // The stranger cannot see the message: not found.
    report(
        &world,
        &world.stranger,
        json!({ "messageId": message["id"], "reason": "spam" }),
    )
    .await
    .assert_error(404, "not_found");
    for (body, why) in [
        (json!({ "reason": "spam" }), "no subject"),
        (
            json!({ "messageId": message["id"], "participantId": world.astro.id, "reason": "spam" }),
            "both",
        ),
        (
            json!({ "participantId": world.astro.id, "reason": "boring" }),
            "reason",
        ),
        (
            json!({ "messageId": message["id"], "reason": "spam" }),
            "own message",
        ),
        (
            json!({ "participantId": world.astro.id, "reason": "other", "details": "x".repeat(1001) }),
            "long",
        ),
    ] {
        let res = report(&world, &world.user, body).await;
        assert_eq!(res.status.as_u16(), 422, "{why}: {:?}", res.body);
    }
    let made = report(
        &world,
        &world.astro,
        json!({ "messageId": message["id"], "reason": "spam" }),
    )
    .await;
    let id = made.data()["id"].as_str().unwrap().to_owned();

    let rival = world.app.tenant("rival").await;
    let rival_admin = world.app.login_admin(&rival).await;
    for (method, path) in [
        (Method::GET, format!("/api/reports/{id}")),
        (Method::POST, format!("/api/reports/{id}/dismiss")),
        (Method::POST, format!("/api/reports/{id}/block-participant")),
        (Method::POST, format!("/api/reports/{id}/delete-message")),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        world
            .app
            .call(
                method.clone(),
                &path,
                Some(&rival_admin.access),
                body.clone(),
            )
            .await
            .assert_error(404, "not_found");
        world
            .app
            .call(method, &path, Some(&world.user.access), body)
            .await
            .assert_error(403, "forbidden");
    }
    let theirs = world.app.get("/api/reports", &rival_admin.access).await;
    assert_eq!(theirs.data(), &json!([]));
    // A rival's participant cannot be reported from here.
    report(
        &world,
        &world.user,
        json!({ "participantId": rival.admin_id, "reason": "spam" }),
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn an_api_key_that_may_settle_reports_deletes_the_reported_message() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let bad = world
        .send(&world.astro, &conversation, "call me on my number")
        .await;
    let made = report(
        &world,
        &world.user,
        json!({ "messageId": bad["id"], "reason": "off_platform" }),
    )
    .await;
    let id = made.data()["id"].as_str().unwrap().to_owned();
    let key = world
        .app
        .post(
            "/api/api-keys",
            Some(&world.admin.access),
            json!({ "name": "moderation bot", "scopes": ["write"] }),
        )
        .await
        .data()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/reports/{id}/delete-message");
    let settled = world
        .app
        .send(
            world
                .app
                .raw(Method::POST, &path)
                .header("x-api-key", &key)
                .json(&json!({})),
        )
        .await;
    assert_eq!(settled.data()["resolution"], json!("message_deleted"));
    assert!(settled.data()["resolvedBy"].is_null(), "a key is no person");
    let history = world.history(&world.user, &conversation).await;
    let gone = history.iter().find(|m| m["id"] == bad["id"]).unwrap();
    assert_eq!(gone["isDeleted"], json!(true));
    assert!(gone["content"].is_null());
}
