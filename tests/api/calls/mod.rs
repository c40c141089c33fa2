//! Calls over REST and the shared set-up of their tests. `credentials`:
//! Agora credentials (write-only), who may call and the call rate.
//! `lifecycle`: accept, end, reject, cancel, illegal transitions, busy.
//! `timeouts`: ring timeouts (also across a restart) and disconnect
//! cleanup. `history`: call entries, history and tenancy.

mod credentials;
mod history;
mod lifecycle;
mod timeouts;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{Login, Res, TestApp},
    world::World,
};

const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";

const CERTIFICATE: &str = "5CFd2fd1755d40ecb72977518be15d3b";

/// Every body a test saw, to prove the credentials never come back.
struct Seen(std::sync::Mutex<Vec<String>>);

impl Seen {
    fn new() -> Self {
        Self(std::sync::Mutex::new(vec![]))
    }

    fn note(&self, res: &Res) {
        self.0.lock().unwrap().push(res.body.to_string());
    }

    fn assert_no_secrets(&self) {
        for body in self.0.lock().unwrap().iter() {
            let lower = body.to_lowercase();
            assert!(!lower.contains(&CERTIFICATE.to_lowercase()), "{body}");
            assert!(!lower.contains(&APP_ID.to_lowercase()), "{body}");
        }
    }
}

async fn world_with(configure: impl FnOnce(&mut samvad::config::Config)) -> World {
    let world = World::in_app(TestApp::spawn_with(configure).await, "acme").await;
    // Tests place many calls: lift the per-participant call limit.
    world
        .settings(json!({ "callsPerParticipant": { "max": 1000, "perSeconds": 3600 } }))
        .await;
    world
}

async fn world() -> World {
    world_with(|_| {}).await
}

pub(crate) async fn configure_agora(world: &World) -> Res {
    let res = world
        .app
        .call(
            Method::PUT,
            "/api/settings/agora",
            Some(&world.admin.access),
            Some(json!({ "appId": APP_ID, "appCertificate": CERTIFICATE })),
        )
        .await;
    res.data();
    res
}

async fn initiate(world: &World, from: &Login, to: &Login) -> Res {
    world
        .app
        .post(
            "/api/calls/initiate",
            Some(&from.access),
            json!({ "calleeId": to.id, "callType": "voice" }),
        )
        .await
}

fn id_of(res: &Res) -> String {
    res.data()["callId"].as_str().unwrap().to_owned()
}

async fn call_as(world: &World, who: &Login, id: &str, verb: &str) -> Res {
    world
        .app
        .post(
            &format!("/api/calls/{id}/{verb}"),
            Some(&who.access),
            json!({}),
        )
        .await
}

async fn get_call(world: &World, who: &Login, id: &str) -> Res {
    world
        .app
        .get(&format!("/api/calls/{id}"), &who.access)
        .await
}

/// Polls the call until `done` holds (the sweeper works in the background).
async fn wait_for(world: &World, who: &Login, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let call = get_call(world, who, id).await.data().clone();
        if done(&call) {
            return call;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: {call}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The call entries of the conversation between two parties.
async fn call_entries(world: &World, who: &Login, conversation: &str) -> Vec<Value> {
    world
        .history(who, conversation)
        .await
        .into_iter()
        .filter(|m| m["type"] == "call")
        .collect()
}
