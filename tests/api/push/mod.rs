//! Push notifications through fake FCM and APNs servers that speak the
//! real protocols and check the JWTs (`helpers/push`). The set-up here: the
//! messaging cast with both providers configured, inboxes and pushes empty.
//! `messages`: who gets a message's push and what it says. `delivery`:
//! retries, dead tokens, the delivery log. `calls`: ringing, cancelling,
//! missed calls. `settings`: credentials (write-only), broadcasts, tenancy.
//! `crash`: `kill -9` between a commit and its push.

mod calls;
mod crash;
mod delivery;
mod messages;
mod settings;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{
        Login, TestApp,
        push::{APNS_BUNDLE_ID, APNS_KEY_ID, APNS_TEAM_ID, FakeApns, FakeFcm, keys},
        within,
    },
    notifications::settled,
    world::World,
};

/// How long a test waits for a push.
const WAIT: Duration = Duration::from_secs(15);

pub struct PushWorld {
    pub world: World,
    pub fcm: FakeFcm,
    pub apns: FakeApns,
}

impl std::ops::Deref for PushWorld {
    type Target = World;

    fn deref(&self) -> &World {
        &self.world
    }
}

/// The cast, both providers set, nothing pending.
pub async fn push_world() -> PushWorld {
    let fcm = FakeFcm::start().await;
    let apns = FakeApns::start().await;
    let (fcm_url, apns_url) = (fcm.base().to_owned(), apns.base().to_owned());
    let app = TestApp::spawn_with(|c| {
        c.push.fcm_url = Some(fcm_url);
        c.push.apns_url = Some(apns_url);
        c.push.grace = Duration::from_millis(2000);
    })
    .await;
    let world = World::in_app(app, "acme").await;
    // The consultation the cast starts with notifies both its sides: let
    // that pass (no device is registered yet, so nothing is sent).
    settled(&world.app).await;
    quiesced(&world.app).await;
    for table in ["notifications", "push_deliveries", "pushes"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&world.app.pool)
            .await
            .unwrap();
    }
    set_credentials(&world, &fcm).await;
    PushWorld { world, fcm, apns }
}

/// Gives the tenant its FCM service account and APNs key.
pub async fn set_credentials(world: &World, fcm: &FakeFcm) {
    let set = |path: &'static str, body: Value| {
        world
            .app
            .call(Method::PUT, path, Some(&world.admin.access), Some(body))
    };
    set(
        "/api/settings/push/fcm",
        json!({ "serviceAccount": keys().service_account_json(&fcm.token_uri()) }),
    )
    .await
    .data();
    set(
        "/api/settings/push/apns",
        json!({
            "teamId": APNS_TEAM_ID, "keyId": APNS_KEY_ID, "bundleId": APNS_BUNDLE_ID,
            "key": keys().apns_p8(), "environment": "sandbox",
        }),
    )
    .await
    .data();
}

/// Registers a device of `who`'s session; returns its id.
pub async fn device(app: &TestApp, who: &Login, platform: &str, token: &str, voip: bool) -> String {
    app.post(
        "/api/devices",
        Some(&who.access),
        json!({ "platform": platform, "token": token, "voip": voip }),
    )
    .await
    .data()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until the log is read and no push or delivery is waiting (or
/// being sent): whatever was to be sent has been.
pub async fn quiesced(app: &TestApp) {
    settled(app).await;
    within(Duration::from_secs(15), "no push waiting", async || {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM pushes WHERE state = 'pending')
                  + (SELECT COUNT(*) FROM push_deliveries WHERE state IN ('pending', 'sending'))",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        waiting == 0
    })
    .await;
}

/// Why each of `who`'s pushes was skipped (`None`: expanded), oldest first.
pub async fn outcomes(app: &TestApp, who: &Login) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT state, reason FROM pushes WHERE participant_id = ? ORDER BY created_at")
        .bind(who.id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// The tenant's delivery log as its admin sees it.
pub async fn deliveries(world: &World, query: &str) -> Vec<Value> {
    world
        .app
        .get(&format!("/api/push/deliveries{query}"), &world.admin.access)
        .await
        .data()
        .as_array()
        .unwrap()
        .clone()
}

/// The sum of `who`'s unread counts over their conversations.
pub async fn unread_in_conversations(world: &World, who: &Login) -> u64 {
    let list = world.app.get("/api/conversations", &who.access).await;
    let data = list.data();
    let items = data.get("items").unwrap_or(data).as_array().unwrap();
    items
        .iter()
        .map(|c| c["unreadCount"].as_u64().unwrap_or(0))
        .sum()
}
