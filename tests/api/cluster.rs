//! Several nodes on one database (issue 16): what must hold whichever node
//! a request lands on. The Socket.IO side (rooms through Redis) is in the
//! e2e suite (`tests/e2e/cluster/`).

use std::time::Duration;

use futures::future::join_all;
use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::{helpers::within, world::World};

#[tokio::test]
async fn two_nodes_sending_into_one_conversation_keep_its_seqs_gap_free_and_lose_nothing() {
    let world = World::new().await;
    let other = world.app.another_node().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let path = format!("/api/conversations/{conversation}/messages");

    let sends = (0..60).map(|i| {
        let (node, who) = match i % 3 {
            0 => (&world.app, &world.user),
            1 => (&other, &world.astro),
            _ => (&other, &world.user),
        };
        let body = json!({ "content": format!("m{i}"), "clientMsgId": format!("c{i}") });
        let path = path.clone();
        async move { node.post(&path, Some(&who.access), body).await }
    });
    let answers = join_all(sends).await;
    let mut seqs: Vec<u64> = answers
        .iter()
        .map(|a| a.data()["seq"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());

    // A retry on the other node returns the first message, not a new one.
    let again = world
        .app
        .post(
            &path,
            Some(&world.astro.access),
            json!({ "content": "m1", "clientMsgId": "c1" }),
        )
        .await;
    assert_eq!(again.data()["id"], answers[1].data()["id"]);
    let history = other
        .get(&format!("{path}?after=0&limit=100"), &world.user.access)
        .await;
    assert_eq!(history.data()["items"].as_array().unwrap().len(), 60);
    other.stop().await;
}

/// Each node's writer keeps conversations' members in memory, under a
/// revision on the row it locks: a change made through the other node
/// holds from the very next send, with no message between the nodes.
#[tokio::test]
async fn a_member_removed_or_added_through_one_node_counts_at_once_on_the_other() {
    let world = World::new().await;
    let other = world.app.another_node().await;
    let group = world.group("Circle", &[&world.astro, &world.user]).await;
    let path = format!("/api/conversations/{group}/messages");
    let members = format!("/api/conversations/{group}/members");
    let send = async |text: &str| {
        other
            .post(&path, Some(&world.user.access), json!({ "content": text }))
            .await
    };
    send("kept in the other node's memory").await.data();

    let removed = world
        .app
        .call(
            reqwest::Method::DELETE,
            &format!("{members}/{}", world.user.id),
            Some(&world.admin.access),
            None,
        )
        .await;
    removed.data();
    send("after removal").await.assert_error(404, "not_found");

    world
        .app
        .post(
            &members,
            Some(&world.admin.access),
            json!({ "memberIds": [world.user.id] }),
        )
        .await
        .data();
    assert_eq!(send("back again").await.data()["seq"], json!(2));
    other.stop().await;
}

/// Two nodes sharing the machine's Redis (a prefix of their own): the
/// cast's app is the first, the second is returned.
pub async fn shared_world() -> (World, crate::helpers::TestApp) {
    let redis = std::env::var("SAMVAD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/?protocol=resp3".into());
    nodes_on(redis).await
}

/// Two nodes sharing the Redis at `redis`.
async fn nodes_on(redis: String) -> (World, crate::helpers::TestApp) {
    let prefix = format!("samvad-test-{}", uuid::Uuid::now_v7().simple());
    let app = crate::helpers::TestApp::spawn_with(|c| {
        c.redis_url = Some(samvad::config::Secret::new(redis));
        c.redis_prefix = prefix;
        c.presence_grace = Duration::from_millis(100);
    })
    .await;
    let world = World::in_app(app, "acme").await;
    let other = world.app.another_node().await;
    (world, other)
}

const ONE_SECOND: Duration = Duration::from_secs(1);

/// A new session of the astrologer, seen by `other`, ended on the cast's
/// node: `other` refuses it within `limit`.
async fn logged_out_elsewhere(world: &World, other: &crate::helpers::TestApp, limit: Duration) {
    let phone = world.app.login(&world.tenant, "asha@acme.test").await;
    other.get("/api/auth/me", &phone.access).await.data();
    world
        .app
        .post("/api/auth/logout", Some(&phone.access), json!({}))
        .await
        .data();
    within(
        limit,
        "the revoked session is refused on the other node",
        async || other.get("/api/auth/me", &phone.access).await.status == 401,
    )
    .await;
}

#[tokio::test]
async fn a_change_on_one_node_takes_effect_on_the_other_within_a_second() {
    let (world, other) = shared_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let path = format!("/api/conversations/{conversation}/messages");

    // A session both nodes have seen, ended on the first: the second refuses it.
    logged_out_elsewhere(&world, &other, ONE_SECOND).await;

    // Settings: the second node sends under the new limit.
    other
        .post(
            &path,
            Some(&world.user.access),
            json!({ "content": "twenty characters!!!" }),
        )
        .await
        .data();
    world.settings(json!({ "maxMessageChars": 10 })).await;
    within(
        ONE_SECOND,
        "the new message limit holds on the other node",
        async || {
            let body = json!({ "content": "twenty characters!!!" });
            other
                .post(&path, Some(&world.user.access), body)
                .await
                .status
                == 422
        },
    )
    .await;

    // Policies: a rule removed on the first node closes the endpoint on the second.
    other.get("/api/users", &world.user.access).await.data();
    world
        .app
        .call(
            reqwest::Method::DELETE,
            "/api/policies?role=user&object=directory&action=read",
            Some(&world.admin.access),
            None,
        )
        .await
        .data();
    within(
        ONE_SECOND,
        "the removed rule is enforced on the other node",
        async || other.get("/api/users", &world.user.access).await.status == 403,
    )
    .await;
    other.stop().await;
}

#[tokio::test]
async fn the_nodes_hear_each_other_and_share_presence_again_after_redis_restarts() {
    let mut redis = crate::helpers::redis::PrivateRedis::start().await;
    let (world, other) = nodes_on(redis.url()).await;
    logged_out_elsewhere(&world, &other, ONE_SECOND).await;
    let astro = samvad::domain::ParticipantId(world.astro.id);
    let on_a = actor_on(&world.app, &world.astro).await;
    world.app.core.connection_opened(&on_a).await.unwrap();
    assert!(other.core.is_online(astro).await);

    let before = redis.pid();
    redis.restart().await;
    assert_ne!(redis.pid(), before, "a new redis-server");

    // Both nodes reconnect and subscribe again by themselves, and say again
    // who is connected to them (the new Redis knows nothing).
    logged_out_elsewhere(&world, &other, Duration::from_secs(10)).await;
    within(
        Duration::from_secs(15),
        "presence written again after the restart",
        async || other.core.is_online(astro).await,
    )
    .await;
    other.stop().await;
}

#[tokio::test]
async fn two_nodes_allow_a_rate_once_between_them_not_once_each() {
    let (world, other) = shared_world().await;
    world
        .settings(json!({ "messagesPerParticipant": { "max": 4, "perSeconds": 600 } }))
        .await;
    let conversation = world.open(&world.user, &world.astro).await;
    let path = format!("/api/conversations/{conversation}/messages");
    // Eight at once, four on each node: counted in Redis, exactly four of
    // the eight pass (counted on each node, all eight would).
    let sends = (0..8).map(|n| {
        let node = if n % 2 == 0 { &world.app } else { &other };
        node.post(
            &path,
            Some(&world.user.access),
            json!({ "content": format!("m{n}") }),
        )
    });
    let answers = join_all(sends).await;
    let passed = answers.iter().filter(|a| a.status.is_success()).count();
    assert_eq!(passed, 4, "{answers:?}");
    for refused in answers.iter().filter(|a| !a.status.is_success()) {
        refused.assert_error(429, "rate_limited");
    }
    for node in [&world.app, &other] {
        let refused = node
            .post(
                &path,
                Some(&world.user.access),
                json!({ "content": "one too many" }),
            )
            .await;
        refused.assert_error(429, "rate_limited");
        let wait: u64 = refused.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=150).contains(&wait), "retry after {wait} s");
    }
    // Logins too: an account's, counted across the nodes.
    world
        .settings(json!({ "loginPerAccount": { "max": 2, "perSeconds": 600 } }))
        .await;
    let (_, email) = world
        .app
        .participant(&world.tenant, ParticipantType::User, "Ravi")
        .await;
    let login = json!({ "tenant": "acme", "email": email, "password": crate::helpers::PASSWORD });
    world
        .app
        .post("/api/auth/login", None, login.clone())
        .await
        .data();
    other
        .post("/api/auth/login", None, login.clone())
        .await
        .data();
    other
        .post("/api/auth/login", None, login)
        .await
        .assert_error(429, "rate_limited");
    other.stop().await;
}

/// `who` as `node` authenticates them.
async fn actor_on(
    node: &crate::helpers::TestApp,
    who: &crate::helpers::Login,
) -> samvad::domain::Actor {
    node.state
        .auth
        .authenticate(&who.access, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn online_on_either_node_is_online_on_both_and_offline_when_the_last_connection_goes() {
    let (world, other) = shared_world().await;
    let astro = samvad::domain::ParticipantId(world.astro.id);
    let on_a = actor_on(&world.app, &world.astro).await;
    let on_b = actor_on(&other, &world.astro).await;

    world.app.core.connection_opened(&on_a).await.unwrap();
    assert!(
        other.core.is_online(astro).await,
        "online on A is online for B"
    );
    other.core.connection_opened(&on_b).await.unwrap();

    // A's connection goes; B's holds them online.
    world.app.core.connection_closed(&on_a);
    within(
        ONE_SECOND,
        "A's own count ends after the grace",
        async || !world.app.core.presence_registry().is_online_here(astro),
    )
    .await;
    assert!(
        world.app.core.is_online(astro).await,
        "still online through B"
    );

    // B's goes too: offline everywhere, last seen stamped.
    other.core.connection_closed(&on_b);
    within(ONE_SECOND, "offline on both nodes", async || {
        !world.app.core.is_online(astro).await && !other.core.is_online(astro).await
    })
    .await;
    other.stop().await;
}

/// The admin's online counts as `node` answers them.
async fn counts_on(node: &crate::helpers::TestApp, world: &World) -> serde_json::Value {
    node.get("/api/users/online/count", &world.admin.access)
        .await
        .data()
        .clone()
}

#[tokio::test]
async fn the_online_counts_are_the_deployments_not_one_nodes() {
    let (world, other) = shared_world().await;
    let astro_on_a = actor_on(&world.app, &world.astro).await;
    let user_on_b = actor_on(&other, &world.user).await;
    world.app.core.connection_opened(&astro_on_a).await.unwrap();
    // Two devices on B count once.
    other.core.connection_opened(&user_on_b).await.unwrap();
    other.core.connection_opened(&user_on_b).await.unwrap();
    let both = json!({ "total": 2, "user": 1, "astrologer": 1, "admin": 0 });
    assert_eq!(counts_on(&world.app, &world).await, both);
    assert_eq!(counts_on(&other, &world).await, both);

    // The user's devices on B go: A counts them out after the grace.
    other.core.connection_closed(&user_on_b);
    other.core.connection_closed(&user_on_b);
    let astro_only = json!({ "total": 1, "user": 0, "astrologer": 1, "admin": 0 });
    within(ONE_SECOND, "A counts the user out", async || {
        counts_on(&world.app, &world).await == astro_only
    })
    .await;
    other.stop().await;
}

#[tokio::test]
async fn a_node_that_stops_takes_offline_within_a_heartbeat_whoever_was_connected_only_to_it() {
    let (world, other) = shared_world().await;
    let astro = samvad::domain::ParticipantId(world.astro.id);
    let user = samvad::domain::ParticipantId(world.user.id);
    other
        .core
        .connection_opened(&actor_on(&other, &world.astro).await)
        .await
        .unwrap();
    // The user is connected to both nodes.
    other
        .core
        .connection_opened(&actor_on(&other, &world.user).await)
        .await
        .unwrap();
    world
        .app
        .core
        .connection_opened(&actor_on(&world.app, &world.user).await)
        .await
        .unwrap();
    assert!(world.app.core.is_online(astro).await);
    assert_eq!(counts_on(&world.app, &world).await["astrologer"], json!(1));

    // B stops without its grace timers running out (its sockets' clients
    // would be reconnecting elsewhere). A killed node is cleaned up the
    // same way, once its heartbeat key expires (bench/faults.sh kills one).
    other.stop().await;
    within(
        Duration::from_secs(8),
        "offline at A's next heartbeat",
        async || !world.app.core.is_online(astro).await,
    )
    .await;
    assert_eq!(
        counts_on(&world.app, &world).await["astrologer"],
        json!(0),
        "and out of the counts"
    );
    assert!(
        world.app.core.is_online(user).await,
        "still connected to A: still online"
    );
}
