//! Webhooks (issue 17) to a real receiver that checks every delivery with
//! the official `standardwebhooks` library (`helpers/webhooks`).
//! `endpoints`: registering, changing, the secret shown once, the rule
//! against private targets, permissions and tenancy. `delivery`: what is
//! sent for each event type, signatures, retries with the same id, 410
//! and three days of failures turning an endpoint off, sending again, and
//! deliveries pending across a restart.

mod delivery;
mod endpoints;

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, webhooks::Receiver, within},
    world::World,
};

/// How long a test waits for a delivery.
const WAIT: Duration = Duration::from_secs(15);

/// The cast, a receiver, and an app that may post to it (loopback) and
/// retries after `retries`.
pub async fn hook_world(retries: &[Duration]) -> (World, Receiver) {
    let receiver = Receiver::start().await;
    let retries = retries.to_vec();
    let app = TestApp::spawn_with(move |c| {
        c.webhooks.allow_private = true;
        c.webhooks.retry_schedule = retries;
    })
    .await;
    let world = World::in_app(app, "acme").await;
    settled(&world.app).await;
    (world, receiver)
}

/// Registers an endpoint of the receiver for `types`, tells the receiver
/// its secret; returns the endpoint.
pub async fn register(world: &World, receiver: &Receiver, path: &str, types: &[&str]) -> Value {
    let res = world
        .app
        .post(
            "/api/webhooks",
            Some(&world.admin.access),
            json!({ "url": receiver.url(path), "eventTypes": types }),
        )
        .await;
    let secret = res.data()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.set_secret(&secret).await;
    res.data()["endpoint"].clone()
}

/// Waits until the webhooks worker has read the whole log.
pub async fn settled(app: &TestApp) {
    within(WAIT, "the webhooks worker catching up", async || {
        let (checkpoint, head): (u64, u64) = sqlx::query_as(
            "SELECT c.position, h.position FROM log_checkpoints c, log_head h
             WHERE c.name = 'webhooks' AND h.id = 1",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        checkpoint == head
    })
    .await;
}

/// Waits until the receiver has `count` deliveries of type `kind`;
/// returns them.
pub async fn arrived(receiver: &Receiver, kind: &str, count: usize) -> Vec<Value> {
    within(WAIT, &format!("{count} {kind} deliveries"), async || {
        receiver.of_type(kind).await.len() >= count
    })
    .await;
    receiver.of_type(kind).await
}

/// The endpoint's deliveries, newest first.
pub async fn deliveries(world: &World, endpoint: &Value) -> Vec<Value> {
    let path = format!(
        "/api/webhooks/{}/deliveries",
        endpoint["id"].as_str().unwrap()
    );
    world
        .app
        .get(&path, &world.admin.access)
        .await
        .data()
        .as_array()
        .unwrap()
        .clone()
}
