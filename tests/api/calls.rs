//! Calls over REST: Agora credentials (write-only), the lifecycle and its
//! illegal transitions, busy, ring timeouts (also across a restart),
//! disconnect cleanup, call entries in the conversation, history, tenancy.

use std::time::Duration;

use reqwest::Method;
use samvad::agora::{self, AgoraCredentials};
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
        .app
        .patch(
            "/api/settings",
            &world.admin.access,
            json!({ "callsPerParticipant": { "max": 1000, "perSeconds": 3600 } }),
        )
        .await
        .data();
    world
}

async fn world() -> World {
    world_with(|_| {}).await
}

async fn configure_agora(world: &World) -> Res {
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

#[tokio::test]
async fn without_agora_credentials_calls_are_a_clear_409() {
    let world = world().await;
    initiate(&world, &world.admin, &world.astro)
        .await
        .assert_error(409, "agora_not_configured");
    let status = world
        .app
        .get("/api/settings/agora", &world.admin.access)
        .await;
    assert_eq!(status.data()["configured"], false);
}

#[tokio::test]
async fn credentials_are_write_only_validated_and_admin_only() {
    let world = world().await;
    let seen = Seen::new();
    let bad = world
        .app
        .call(
            Method::PUT,
            "/api/settings/agora",
            Some(&world.admin.access),
            Some(json!({ "appId": "nope", "appCertificate": CERTIFICATE })),
        )
        .await;
    bad.assert_error(422, "validation_failed");
    let by_astro = world
        .app
        .call(
            Method::PUT,
            "/api/settings/agora",
            Some(&world.astro.access),
            Some(json!({ "appId": APP_ID, "appCertificate": CERTIFICATE })),
        )
        .await;
    by_astro.assert_error(403, "forbidden");
    seen.note(&configure_agora(&world).await);
    let status = world
        .app
        .get("/api/settings/agora", &world.admin.access)
        .await;
    assert_eq!(status.data()["configured"], true);
    seen.note(&status);
    seen.note(&world.app.get("/api/settings", &world.admin.access).await);
    seen.note(&world.app.get("/api/audit", &world.admin.access).await);

    // A call's tokens verify under the credentials, yet no body shows them.
    let placed = initiate(&world, &world.admin, &world.astro).await;
    seen.note(&placed);
    let token = placed.data()["agoraToken"].as_str().unwrap().to_owned();
    assert!(token.starts_with("007"), "{token}");
    let parsed = agora::parse(&token).unwrap();
    assert!(agora::verify(
        &parsed,
        &AgoraCredentials::new(APP_ID, CERTIFICATE).unwrap()
    ));
    let id = id_of(&placed);
    seen.note(&call_as(&world, &world.astro, &id, "accept").await);
    seen.note(&call_as(&world, &world.astro, &id, "token").await);
    seen.note(&get_call(&world, &world.admin, &id).await);
    seen.note(
        &world
            .app
            .get("/api/calls/history", &world.admin.access)
            .await,
    );
    seen.assert_no_secrets();

    // Removing them stops Agora calls.
    let cleared = world
        .app
        .call(
            Method::DELETE,
            "/api/settings/agora",
            Some(&world.admin.access),
            None,
        )
        .await;
    cleared.data();
    call_as(&world, &world.admin, &id, "end").await.data();
    initiate(&world, &world.admin, &world.astro)
        .await
        .assert_error(409, "agora_not_configured");
}

#[tokio::test]
async fn accept_then_end_computes_the_duration_and_writes_the_entry() {
    let world = world().await;
    configure_agora(&world).await;
    let placed = initiate(&world, &world.admin, &world.astro).await;
    let data = placed.data();
    assert_eq!(data["call"]["status"], "initiated");
    assert_eq!(data["call"]["callerType"], "admin");
    assert_eq!(data["call"]["calleeType"], "astrologer");
    assert!(data["call"]["ringDeadline"].is_string());
    let id = id_of(&placed);

    // Only the callee picks up.
    call_as(&world, &world.admin, &id, "accept")
        .await
        .assert_error(403, "forbidden");
    let accepted = call_as(&world, &world.astro, &id, "accept").await;
    let accepted = accepted.data();
    assert_eq!(accepted["call"]["status"], "answered");
    assert!(accepted["agoraToken"].as_str().unwrap().starts_with("007"));
    assert_eq!(accepted["uid"], accepted["call"]["calleeUid"]);
    assert!(accepted["call"]["ringDeadline"].is_null());

    // Illegal transitions are refused and change nothing.
    call_as(&world, &world.astro, &id, "accept")
        .await
        .assert_error(409, "illegal_transition");
    call_as(&world, &world.astro, &id, "reject")
        .await
        .assert_error(409, "illegal_transition");
    assert_eq!(
        get_call(&world, &world.admin, &id).await.data()["status"],
        "answered"
    );

    let ended = world
        .app
        .post(
            &format!("/api/calls/{id}/end"),
            Some(&world.astro.access),
            json!({ "duration": 99999 }),
        )
        .await;
    let ended = ended.data();
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["endReason"], "completed");
    assert_eq!(ended["endedBy"], json!(world.astro.id));
    let duration = ended["duration"].as_u64().unwrap();
    assert!(
        duration < 60,
        "the client's duration is not trusted: {duration}"
    );
    call_as(&world, &world.admin, &id, "end")
        .await
        .assert_error(409, "illegal_transition");

    let conversation = ended["conversationId"].as_str().unwrap();
    let entries = call_entries(&world, &world.astro, conversation).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("Voice call · 0:")
    );
}

#[tokio::test]
async fn reject_cancel_and_the_relationship_rules() {
    let world = world().await;
    configure_agora(&world).await;
    // A user without a consultation may not call the astrologer.
    initiate(&world, &world.stranger, &world.astro)
        .await
        .assert_error(403, "no_relationship");

    let id = id_of(&initiate(&world, &world.user, &world.astro).await);
    call_as(&world, &world.user, &id, "reject")
        .await
        .assert_error(403, "forbidden");
    let rejected = call_as(&world, &world.astro, &id, "reject").await;
    assert_eq!(rejected.data()["status"], "rejected");
    assert_eq!(rejected.data()["endReason"], "rejected");

    // The caller hanging up a ringing call cancels it.
    let id = id_of(&initiate(&world, &world.user, &world.astro).await);
    let cancelled = call_as(&world, &world.user, &id, "end").await;
    assert_eq!(cancelled.data()["status"], "missed");
    assert_eq!(cancelled.data()["endReason"], "cancelled");
    assert!(cancelled.data()["duration"].is_null());

    let conversation = cancelled.data()["conversationId"].as_str().unwrap();
    let entries: Vec<String> = call_entries(&world, &world.user, conversation)
        .await
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(entries, vec!["Declined voice call", "Cancelled voice call"]);
}

#[tokio::test]
async fn a_party_in_a_live_call_is_busy_and_a_record_is_kept() {
    let world = world().await;
    configure_agora(&world).await;
    let first = id_of(&initiate(&world, &world.admin, &world.astro).await);
    initiate(&world, &world.user, &world.astro)
        .await
        .assert_error(409, "busy");
    let busy = world
        .app
        .get("/api/calls/history?status=busy", &world.user.access)
        .await;
    let items = busy.data()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["endReason"], "busy");
    assert_eq!(items[0]["calleeId"], json!(world.astro.id));

    // Once the first call is over, the line is free again.
    call_as(&world, &world.admin, &first, "end").await.data();
    let again = initiate(&world, &world.user, &world.astro).await;
    assert_eq!(again.data()["call"]["status"], "initiated");
}

#[tokio::test]
async fn simultaneous_calls_to_one_callee_give_one_call_and_busy() {
    let world = world().await;
    configure_agora(&world).await;
    let (a, b) = tokio::join!(
        initiate(&world, &world.admin, &world.astro),
        initiate(&world, &world.user, &world.astro)
    );
    let mut codes = vec![a.status.as_u16(), b.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, vec![200, 409], "{a:?} {b:?}");
}

#[tokio::test]
async fn an_unanswered_call_is_missed_after_the_tenant_ring_timeout() {
    let world = world().await;
    configure_agora(&world).await;
    world
        .app
        .patch(
            "/api/settings",
            &world.admin.access,
            json!({ "ringTimeoutSeconds": 1 }),
        )
        .await
        .data();
    let id = id_of(&initiate(&world, &world.admin, &world.astro).await);
    let missed = wait_for(&world, &world.admin, &id, |c| c["status"] != "initiated").await;
    assert_eq!(missed["status"], "missed");
    assert_eq!(missed["endReason"], "no_answer");
    assert!(missed["endedBy"].is_null());
    // Too late to pick up.
    call_as(&world, &world.astro, &id, "accept")
        .await
        .assert_error(409, "illegal_transition");
    let conversation = missed["conversationId"].as_str().unwrap();
    let entries = call_entries(&world, &world.astro, conversation).await;
    assert_eq!(entries[0]["content"], "Missed voice call");
}

#[tokio::test]
async fn a_ringing_call_still_times_out_after_a_restart() {
    let world = world().await;
    configure_agora(&world).await;
    world
        .app
        .patch(
            "/api/settings",
            &world.admin.access,
            json!({ "ringTimeoutSeconds": 2 }),
        )
        .await
        .data();
    let id = id_of(&initiate(&world, &world.admin, &world.astro).await);
    let World {
        app,
        admin,
        astro,
        tenant,
        user,
        stranger,
    } = world;
    // The server goes down while the call rings, and comes back.
    let app = app.restart().await;
    let world = World {
        app,
        tenant,
        admin,
        astro,
        user,
        stranger,
    };
    assert_eq!(
        get_call(&world, &world.admin, &id).await.data()["status"],
        "initiated"
    );
    let missed = wait_for(&world, &world.admin, &id, |c| c["status"] != "initiated").await;
    assert_eq!(missed["status"], "missed");
    assert_eq!(missed["endReason"], "no_answer");
}

#[tokio::test]
async fn a_party_whose_last_connection_drops_ends_the_call() {
    let world = world_with(|c| c.presence_grace = Duration::from_millis(50)).await;
    configure_agora(&world).await;
    let astro = world
        .app
        .state
        .auth
        .authenticate(&world.astro.access, None)
        .await
        .unwrap();
    world.app.core.connection_opened(&astro).await.unwrap();
    let placed = initiate(&world, &world.admin, &world.astro).await;
    // The callee is online: the call rings at once.
    assert_eq!(placed.data()["call"]["status"], "ringing");
    let id = id_of(&placed);
    call_as(&world, &world.astro, &id, "accept").await.data();
    world.app.core.connection_closed(&astro);
    let ended = wait_for(&world, &world.admin, &id, |c| c["status"] != "answered").await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["endReason"], "network_error");
}

#[tokio::test]
async fn history_filters_pages_and_shows_only_what_the_caller_may_see() {
    let world = world().await;
    configure_agora(&world).await;
    // Three finished calls: admin→astro (video), user→astro twice.
    let video = world
        .app
        .post(
            "/api/admin/calls/initiate",
            Some(&world.admin.access),
            json!({ "astrologerId": world.astro.id, "callType": "video" }),
        )
        .await;
    let video_id = id_of(&video);
    call_as(&world, &world.admin, &video_id, "end").await.data();
    for _ in 0..2 {
        let id = id_of(&initiate(&world, &world.user, &world.astro).await);
        call_as(&world, &world.astro, &id, "reject").await.data();
    }
    let list = |who: &Login, query: &str| {
        let path = format!("/api/calls/history{query}");
        let token = who.access.clone();
        let app = &world.app;
        async move {
            app.get(&path, &token).await.data()["items"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    assert_eq!(list(&world.admin, "").await.len(), 3);
    assert_eq!(list(&world.astro, "").await.len(), 3);
    assert_eq!(list(&world.user, "").await.len(), 2);
    assert_eq!(list(&world.stranger, "").await.len(), 0);
    assert_eq!(list(&world.admin, "?type=video").await.len(), 1);
    assert_eq!(list(&world.admin, "?status=rejected").await.len(), 2);
    let by_user = format!("?participantId={}", world.user.id);
    assert_eq!(list(&world.admin, &by_user).await.len(), 2);
    assert_eq!(
        list(&world.admin, "?from=2999-01-01T00:00:00Z").await.len(),
        0
    );
    assert_eq!(
        list(&world.admin, "?to=2999-01-01T00:00:00Z").await.len(),
        3
    );

    // Pages of two, newest first, without repeats.
    let first = world
        .app
        .get("/api/calls/history?limit=2", &world.admin.access)
        .await;
    let cursor = first.data()["nextCursor"].as_str().unwrap().to_owned();
    let second = world
        .app
        .get(
            &format!("/api/calls/history?limit=2&cursor={cursor}"),
            &world.admin.access,
        )
        .await;
    let ids: Vec<_> = first.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.data()["items"].as_array().unwrap())
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], json!(video_id));
    assert!(second.data()["nextCursor"].is_null());

    // Bad filters are 4xx, not 500.
    world
        .app
        .get("/api/calls/history?status=lost", &world.admin.access)
        .await
        .assert_error(422, "validation_failed");
    world
        .app
        .get("/api/calls/history?from=yesterday", &world.admin.access)
        .await
        .assert_error(422, "validation_failed");
    world
        .app
        .get("/api/calls/history?cursor=zzz", &world.admin.access)
        .await
        .assert_error(400, "bad_cursor");
}

#[tokio::test]
async fn another_tenants_call_is_a_404_everywhere() {
    let world = world().await;
    configure_agora(&world).await;
    let id = id_of(&initiate(&world, &world.admin, &world.astro).await);
    let globex = world.app.tenant("globex").await;
    let other_admin = world.app.login_admin(&globex).await;
    for verb in ["accept", "reject", "end", "token"] {
        call_as(&world, &other_admin, &id, verb)
            .await
            .assert_error(404, "not_found");
    }
    get_call(&world, &other_admin, &id)
        .await
        .assert_error(404, "not_found");
    world
        .app
        .post(
            &format!("/api/calls/admin/token?callId={id}"),
            Some(&other_admin.access),
            json!({}),
        )
        .await
        .assert_error(404, "not_found");
    let history = world
        .app
        .get("/api/calls/history", &other_admin.access)
        .await;
    assert!(history.data()["items"].as_array().unwrap().is_empty());
    // Calling across tenants: the callee does not exist here.
    initiate(&world, &other_admin, &world.astro)
        .await
        .assert_error(404, "not_found");
    // Within the tenant, someone not party to the call sees nothing either.
    get_call(&world, &world.stranger, &id)
        .await
        .assert_error(404, "not_found");
    call_as(&world, &world.stranger, &id, "end")
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn admin_tokens_and_the_call_rate_limit() {
    let world = world().await;
    configure_agora(&world).await;
    let own = world
        .app
        .post(
            "/api/calls/admin/token",
            Some(&world.admin.access),
            json!({}),
        )
        .await;
    assert!(
        own.data()["channelName"]
            .as_str()
            .unwrap()
            .starts_with("admin_")
    );
    assert!(own.data()["token"].as_str().unwrap().starts_with("007"));
    world
        .app
        .post(
            "/api/calls/admin/token",
            Some(&world.astro.access),
            json!({}),
        )
        .await
        .assert_error(403, "forbidden");
    world
        .app
        .post(
            "/api/admin/calls/initiate",
            Some(&world.user.access),
            json!({ "calleeId": world.astro.id }),
        )
        .await
        .assert_error(403, "forbidden");

    world
        .app
        .patch(
            "/api/settings",
            &world.admin.access,
            json!({ "callsPerParticipant": { "max": 2, "perSeconds": 3600 } }),
        )
        .await
        .data();
    for _ in 0..2 {
        let id = id_of(&initiate(&world, &world.user, &world.astro).await);
        call_as(&world, &world.user, &id, "end").await.data();
    }
    initiate(&world, &world.user, &world.astro)
        .await
        .assert_error(429, "rate_limited");
}
