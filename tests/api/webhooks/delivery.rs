//! What reaches an endpoint, and how: signed so the official library
//! verifies it, every event type, retries with the same `webhook-id`, an
//! endpoint turned off by a 410 or by three days of failures (its admins
//! emailed), sending again, and deliveries pending across a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::{WAIT, arrived, deliveries, hook_world, register, settled};
use crate::{calls::configure_agora, helpers::within, outbox::SmtpServer};

const FAST: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(100),
    Duration::from_millis(100),
];

#[tokio::test]
async fn a_message_reaches_the_endpoint_signed_so_that_the_official_library_verifies_it() {
    let (world, receiver) = hook_world(&FAST).await;
    register(&world, &receiver, "/hooks", &["message.created"]).await;
    let conversation = world.open(&world.user, &world.astro).await;

    let sent = world.send(&world.user, &conversation, "Namaste").await;

    let got = arrived(&receiver, "message.created", 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let hook = &got[0];
    assert_eq!(hook["verified"], json!(true), "{hook}");
    assert_eq!(hook["path"], json!("/hooks"));
    assert!(hook["id"].as_str().unwrap().starts_with("msg_"), "{hook}");
    assert!(
        hook["signature"].as_str().unwrap().starts_with("v1,"),
        "{hook}"
    );
    let payload = &hook["payload"];
    assert_eq!(payload["data"]["id"], sent["id"]);
    assert_eq!(payload["data"]["content"], json!("Namaste"));
    assert_eq!(payload["data"]["conversationId"], json!(conversation));
    assert!(payload["timestamp"].is_string(), "{payload}");
    // Only what the endpoint asked for: the conversation's creation is not sent.
    assert!(receiver.of_type("conversation.created").await.is_empty());
}

#[tokio::test]
async fn every_event_type_is_sent_to_an_endpoint_that_asks_for_it() {
    let (world, receiver) = hook_world(&FAST).await;
    configure_agora(&world).await;
    settled(&world.app).await;
    let all: Vec<String> = serde_json::from_value(
        world
            .app
            .get("/api/webhooks/event-types", &world.admin.access)
            .await
            .data()
            .clone(),
    )
    .unwrap();
    assert_eq!(all.len(), 13);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    register(&world, &receiver, "/all", &all).await;
    let (app, admin) = (&world.app, &world.admin.access);

    // participant.created
    let made = app
        .post(
            "/api/participants",
            Some(admin),
            json!({ "type": "user", "name": "Neha" }),
        )
        .await;
    let neha = made.data()["id"].clone();
    // conversation.created, message.created / updated / deleted
    let conversation = world.open(&world.user, &world.astro).await;
    let message = world.send(&world.user, &conversation, "first").await;
    let path = format!("/api/messages/{}", message["id"].as_str().unwrap());
    app.patch(&path, &world.user.access, json!({ "content": "edited" }))
        .await
        .data();
    app.call(
        Method::DELETE,
        &format!("{path}?forEveryone=true"),
        Some(&world.user.access),
        None,
    )
    .await
    .data();
    // member.added / removed
    let group = app
        .post(
            "/api/conversations",
            Some(admin),
            json!({ "type": "group", "title": "Circle", "memberIds": [world.astro.id] }),
        )
        .await;
    let group = group.data()["id"].as_str().unwrap().to_owned();
    let members = format!("/api/conversations/{group}/members");
    app.post(&members, Some(admin), json!({ "memberIds": [neha] }))
        .await
        .data();
    let neha_id = neha.as_str().unwrap();
    app.call(
        Method::DELETE,
        &format!("{members}/{neha_id}"),
        Some(admin),
        None,
    )
    .await
    .data();
    // chat_request.created / accepted
    let asked = app
        .post(
            "/api/chat-requests",
            Some(&world.stranger.access),
            json!({ "to": world.astro.id, "note": "hello" }),
        )
        .await;
    let request = asked.data()["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/chat-requests/{request}/accept"),
        Some(&world.astro.access),
        json!({}),
    )
    .await
    .data();
    // consultation.updated
    world.consult(&world.stranger).await;
    // call.started, call.ended and call.missed (hung up while ringing)
    let call = app
        .post(
            "/api/calls/initiate",
            Some(&world.user.access),
            json!({ "calleeId": world.astro.id, "callType": "voice" }),
        )
        .await;
    let call = call.data()["callId"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/calls/{call}/end"),
        Some(&world.user.access),
        json!({}),
    )
    .await
    .data();

    for kind in &all {
        let got = arrived(&receiver, kind, 1).await;
        assert!(got.iter().all(|h| h["verified"] == json!(true)), "{got:?}");
    }
    let one = async |kind: &str| receiver.of_type(kind).await.remove(0)["payload"]["data"].clone();
    assert_eq!(one("participant.created").await["id"], neha);
    // Deliveries are not ordered: the direct conversation and the group.
    let made: Vec<_> = receiver
        .of_type("conversation.created")
        .await
        .into_iter()
        .map(|h| h["payload"]["data"]["id"].clone())
        .collect();
    assert!(
        made.contains(&json!(conversation)) && made.contains(&json!(group)),
        "{made:?}"
    );
    // `data` is the object as it is when the delivery is made: the edit's
    // delivery may already show the deletion that followed.
    assert_eq!(one("message.updated").await["id"], message["id"]);
    assert_eq!(one("message.deleted").await["isDeleted"], json!(true));
    assert_eq!(one("member.added").await["participantId"], neha);
    assert_eq!(one("member.removed").await["conversationId"], json!(group));
    assert_eq!(
        one("chat_request.accepted").await["status"],
        json!("accepted")
    );
    assert_eq!(one("call.missed").await["callId"], json!(call));
    assert_eq!(one("call.ended").await["callId"], json!(call));
    let ids: Vec<_> = receiver
        .received()
        .await
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    let mut unique = ids.clone();
    unique.sort_by_key(|v| v.to_string());
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "each event has its own webhook-id");
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_the_same_webhook_id_until_it_answers() {
    let (world, receiver) = hook_world(&FAST).await;
    let endpoint = register(&world, &receiver, "/flaky", &["message.created"]).await;
    receiver.plan(&[500, 503]).await;
    let conversation = world.open(&world.user, &world.astro).await;

    world.send(&world.user, &conversation, "try again").await;

    let got = arrived(&receiver, "message.created", 3).await;
    let answers: Vec<_> = got.iter().map(|h| h["answered"].clone()).collect();
    assert_eq!(answers, vec![json!(500), json!(503), json!(200)]);
    assert!(got.iter().all(|h| h["id"] == got[0]["id"]), "{got:?}");
    assert!(got.iter().all(|h| h["verified"] == json!(true)));
    within(WAIT, "the delivery marked sent", async || {
        deliveries(&world, &endpoint)
            .await
            .first()
            .is_some_and(|d| d["state"] == "sent")
    })
    .await;
    let log = deliveries(&world, &endpoint).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["attempts"], json!(3));
    assert_eq!(log[0]["statusCode"], json!(200));
    assert_eq!(log[0]["responseBody"], json!("thanks"));
    assert_eq!(log[0]["webhookId"], got[0]["id"]);
    // The endpoint is healthy again.
    let path = format!("/api/webhooks/{}", endpoint["id"].as_str().unwrap());
    let now = world.app.get(&path, &world.admin.access).await;
    assert!(now.data()["failingSince"].is_null());
}

#[tokio::test]
async fn a_delivery_is_given_up_once_the_retry_schedule_runs_out_and_can_be_sent_again() {
    let (world, receiver) = hook_world(&[Duration::from_millis(50)]).await;
    let endpoint = register(&world, &receiver, "/down", &["message.created"]).await;
    receiver.plan(&[500, 502]).await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "lost?").await;

    within(WAIT, "the delivery given up", async || {
        deliveries(&world, &endpoint)
            .await
            .first()
            .is_some_and(|d| d["state"] == "failed")
    })
    .await;
    let log = deliveries(&world, &endpoint).await;
    assert_eq!(log[0]["attempts"], json!(2));
    assert_eq!(log[0]["statusCode"], json!(502));
    assert!(
        log[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 2 attempts"),
        "{log:?}"
    );
    assert_eq!(receiver.received().await.len(), 2);

    // "Send again": one more attempt, same id and body.
    let resend = format!(
        "/api/webhooks/{}/deliveries/{}/resend",
        endpoint["id"].as_str().unwrap(),
        log[0]["id"].as_str().unwrap()
    );
    world
        .app
        .post(&resend, Some(&world.admin.access), json!({}))
        .await
        .data();
    let got = arrived(&receiver, "message.created", 3).await;
    assert_eq!(got[2]["id"], got[0]["id"]);
    assert_eq!(got[2]["payload"], got[0]["payload"]);
    within(WAIT, "the resent delivery marked sent", async || {
        deliveries(&world, &endpoint).await[0]["state"] == "sent"
    })
    .await;
}

#[tokio::test]
async fn a_410_answer_turns_the_endpoint_off() {
    let (world, receiver) = hook_world(&FAST).await;
    let endpoint = register(&world, &receiver, "/gone", &["message.created"]).await;
    receiver.plan(&[410]).await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "anyone?").await;

    let path = format!("/api/webhooks/{}", endpoint["id"].as_str().unwrap());
    within(WAIT, "the endpoint turned off", async || {
        world.app.get(&path, &world.admin.access).await.data()["enabled"] == json!(false)
    })
    .await;
    let now = world.app.get(&path, &world.admin.access).await;
    assert!(
        now.data()["disabledReason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{:?}",
        now.body
    );
    assert_eq!(deliveries(&world, &endpoint).await[0]["state"], "failed");

    // Nothing more goes to it.
    world.send(&world.user, &conversation, "still there?").await;
    settled(&world.app).await;
    assert_eq!(receiver.received().await.len(), 1);
    assert_eq!(deliveries(&world, &endpoint).await.len(), 1);
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_turned_off_and_its_admins_are_emailed() {
    let mail = SmtpServer::start().await;
    let receiver = crate::helpers::webhooks::Receiver::start().await;
    let smtp = mail.url.clone();
    let app = crate::helpers::TestApp::spawn_with(move |c| {
        c.webhooks.allow_private = true;
        c.webhooks.retry_schedule = FAST.to_vec();
        c.smtp_url = Some(samvad::config::Secret::new(smtp));
    })
    .await;
    let world = crate::world::World::in_app(app, "acme").await;
    let endpoint = register(&world, &receiver, "/broken", &["message.created"]).await;
    let id: uuid::Uuid = endpoint["id"].as_str().unwrap().parse().unwrap();
    // It has been failing for three days (and a minute).
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = NOW(3) - INTERVAL 3 DAY - INTERVAL 1 MINUTE
         WHERE id = ?",
    )
    .bind(id)
    .execute(&world.app.pool)
    .await
    .unwrap();
    receiver.plan(&[500]).await;
    let conversation = world.open(&world.user, &world.astro).await;

    world
        .send(&world.user, &conversation, "one more failure")
        .await;

    let email = tokio::time::timeout(WAIT, mail.next())
        .await
        .expect("an email");
    assert_eq!(email.to, vec![world.tenant.admin_email.clone()]);
    assert!(
        email.subject().contains("webhook endpoint was turned off"),
        "{}",
        email.subject()
    );
    assert!(
        email.text().contains(&receiver.url("/broken")),
        "{}",
        email.text()
    );
    let path = format!("/api/webhooks/{id}");
    let now = world.app.get(&path, &world.admin.access).await;
    assert_eq!(now.data()["enabled"], json!(false));
    assert_eq!(now.data()["disabledReason"], json!("failing for 3 days"));
    // Turning it on again clears what turned it off.
    let on = world
        .app
        .patch(&path, &world.admin.access, json!({ "enabled": true }))
        .await;
    assert_eq!(on.data()["enabled"], json!(true));
    assert!(on.data()["disabledReason"].is_null());
    assert!(on.data()["failingSince"].is_null());
}

#[tokio::test]
async fn deliveries_pending_at_a_restart_are_sent_after_it_with_the_same_id() {
    // The first attempt fails; the retry is due only after the restart.
    let (world, receiver) = hook_world(&[Duration::from_secs(3)]).await;
    register(&world, &receiver, "/later", &["message.created"]).await;
    receiver.plan(&[503]).await;
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "survive me").await;
    let first = arrived(&receiver, "message.created", 1).await;

    let crate::world::World { app, .. } = world;
    let app = app.restart().await;

    within(WAIT, "the retry after the restart", async || {
        receiver.of_type("message.created").await.len() == 2
    })
    .await;
    let got = receiver.of_type("message.created").await;
    assert_eq!(got[1]["id"], first[0]["id"]);
    assert_eq!(got[1]["verified"], json!(true));
    assert_eq!(got[1]["answered"], json!(200));
    drop(app);
}
