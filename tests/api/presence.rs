//! `GET /api/presence` (and Backend1's `GET /presence`): who is online, as
//! the caller may see it, within the caller's tenant only.

use std::time::Duration;

use serde_json::Value;

use samvad::domain::participant::ParticipantType;

use crate::{
    helpers::{Login, TestApp},
    world::World,
};

async fn presence(world: &World, who: &Login, path: &str, ids: &[uuid::Uuid]) -> Vec<Value> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let res = world
        .app
        .get(&format!("{path}?ids={}", ids.join(",")), &who.access)
        .await;
    res.data().as_array().unwrap().clone()
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| p["userId"].as_str().unwrap().to_owned())
        .collect()
}

async fn world() -> World {
    let app = TestApp::spawn_with(|c| c.presence_grace = Duration::from_millis(50)).await;
    World::in_app(app, "acme").await
}

#[tokio::test]
async fn a_participant_is_online_while_connected_then_offline_with_a_last_seen() {
    let world = world().await;
    let astro = world
        .app
        .state
        .auth
        .authenticate(&world.astro.access, None)
        .await
        .unwrap();

    let before = presence(&world, &world.user, "/api/presence", &[world.astro.id]).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["online"], false);
    assert_eq!(before[0]["status"], "offline");
    assert!(
        before[0]["lastSeen"].is_null(),
        "never connected: {before:?}"
    );

    // Two devices: one leaving keeps the astrologer online.
    world.app.core.connection_opened(&astro).await.unwrap();
    world.app.core.connection_opened(&astro).await.unwrap();
    world.app.core.connection_closed(&astro);
    let online = presence(&world, &world.user, "/presence", &[world.astro.id]).await;
    assert_eq!(online[0]["online"], true);
    assert_eq!(online[0]["status"], "online");
    assert!(online[0]["lastSeen"].is_string());

    // The last device leaves: offline after the grace period, last seen kept.
    world.app.core.connection_closed(&astro);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        let now = presence(&world, &world.user, "/api/presence", &[world.astro.id]).await;
        if now[0]["online"] == false || tokio::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        after[0]["online"], false,
        "still online after the grace: {after:?}"
    );
    assert!(after[0]["lastSeen"].is_string(), "{after:?}");
}

#[tokio::test]
async fn presence_shows_only_whom_the_caller_may_see_in_its_own_tenant() {
    let world = world().await;
    let globex = world.app.tenant("globex").await;
    let other_admin = world.app.login_admin(&globex).await;
    let other_astro = world
        .app
        .participant_login(&globex, ParticipantType::Astrologer, "Gita")
        .await;
    let other_user = world
        .app
        .participant_login(&globex, ParticipantType::User, "Gopal")
        .await;

    // A user sees astrologers (the directory) but not other users, unless
    // they share a conversation; nobody of another tenant, ever.
    let asked = [
        world.astro.id,
        world.stranger.id,
        other_astro.id,
        other_user.id,
    ];
    let seen = presence(&world, &world.user, "/api/presence", &asked).await;
    assert_eq!(ids_of(&seen), vec![world.astro.id.to_string()]);

    // The astrologer shares a conversation with the user: sees them.
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "hello").await;
    let seen = presence(
        &world,
        &world.astro,
        "/api/presence",
        &[world.user.id, other_user.id],
    )
    .await;
    assert_eq!(ids_of(&seen), vec![world.user.id.to_string()]);

    // The other tenant's admin sees none of acme's people.
    let seen = presence(
        &world,
        &other_admin,
        "/api/presence",
        &[world.astro.id, world.user.id],
    )
    .await;
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn bad_input_is_a_4xx_and_an_anonymous_caller_gets_a_401() {
    let world = world().await;
    let token = &world.user.access;
    world
        .app
        .get("/api/presence", token)
        .await
        .assert_error(422, "validation_failed");
    world
        .app
        .get("/api/presence?ids=nope", token)
        .await
        .assert_error(400, "bad_request");
    let res = world
        .app
        .call(
            reqwest::Method::GET,
            &format!("/api/presence?ids={}", world.astro.id),
            None,
            None,
        )
        .await;
    res.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn online_count_is_the_tenants_people_by_type_as_the_directory_shows_them() {
    let world = world().await;
    let other = world.app.tenant("other").await;
    let foreigner = world
        .app
        .participant_login(&other, ParticipantType::User, "Far")
        .await;
    let connect = async |token: &str| {
        let actor = world
            .app
            .state
            .auth
            .authenticate(token, None)
            .await
            .unwrap();
        world.app.core.connection_opened(&actor).await.unwrap();
    };
    // The user on two devices counts once; the foreign user not at all.
    connect(&world.astro.access).await;
    connect(&world.user.access).await;
    connect(&world.user.access).await;
    connect(&foreigner.access).await;

    let admin = world
        .app
        .get("/api/users/online/count", &world.admin.access)
        .await;
    assert_eq!(
        admin.data(),
        &serde_json::json!({ "total": 2, "user": 1, "astrologer": 1, "admin": 0 })
    );
    // A user's directory shows astrologers and admins, so only they are counted.
    let user = world
        .app
        .get("/users/online/count", &world.user.access)
        .await;
    assert_eq!(
        user.data(),
        &serde_json::json!({ "total": 1, "user": null, "astrologer": 1, "admin": 0 })
    );
    let foreign_admin = world.app.login_admin(&other).await;
    let theirs = world
        .app
        .get("/api/users/online/count", &foreign_admin.access)
        .await;
    assert_eq!(theirs.data()["user"], 1);
    assert_eq!(theirs.data()["total"], 1);

    let anonymous = world
        .app
        .call(reqwest::Method::GET, "/api/users/online/count", None, None)
        .await;
    anonymous.assert_error(401, "unauthorized");
}

/// `last_seen_at` of a participant as stored.
async fn stored_last_seen(
    check: &mut sqlx::MySqlConnection,
    who: uuid::Uuid,
) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("SELECT last_seen_at FROM participants WHERE id = ?")
        .bind(who)
        .fetch_one(check)
        .await
        .unwrap()
}

#[tokio::test]
async fn coming_online_is_stamped_in_a_batch_and_a_stop_writes_what_is_held() {
    use sqlx::Connection;
    let world = world().await;
    let mut check = sqlx::MySqlConnection::connect(&world.app.db_url())
        .await
        .unwrap();
    let auth = &world.app.state.auth;
    let astro = auth.authenticate(&world.astro.access, None).await.unwrap();
    let user = auth.authenticate(&world.user.access, None).await.unwrap();
    assert_eq!(stored_last_seen(&mut check, world.astro.id).await, None);

    // Written within the batch's wait, without anything else happening.
    let before = chrono::Utc::now();
    world.app.core.connection_opened(&astro).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let stamped = loop {
        match stored_last_seen(&mut check, world.astro.id).await {
            Some(at) => break at,
            None if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => panic!("coming online was never stamped"),
        }
    };
    assert!(
        stamped >= before - chrono::Duration::milliseconds(1),
        "{stamped} < {before}"
    );

    // Going offline is written at once; the online stamp never moves it back.
    world.app.core.connection_closed(&astro);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while stored_last_seen(&mut check, world.astro.id).await == Some(stamped) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "going offline was not stamped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let offline = stored_last_seen(&mut check, world.astro.id).await.unwrap();
    assert!(offline >= stamped);

    // Stopping at once still writes the stamp held.
    world.app.core.connection_opened(&user).await.unwrap();
    world.app.core.close(Duration::from_secs(5)).await;
    assert!(stored_last_seen(&mut check, world.user.id).await.is_some());
    assert_eq!(
        stored_last_seen(&mut check, world.astro.id).await,
        Some(offline)
    );
}

#[tokio::test]
async fn no_read_finds_someone_offline_without_a_last_seen() {
    // Participants connected for the first time leave (sooner than the
    // last-seen stamps' batch is written) while another reads their
    // presence without pause: every read that says offline has a last seen.
    let world = world().await;
    let mut astros = Vec::new();
    for i in 0..24 {
        let login = world
            .app
            .participant_login(
                &world.tenant,
                ParticipantType::Astrologer,
                &format!("Asha {i}"),
            )
            .await;
        let actor = world
            .app
            .state
            .auth
            .authenticate(&login.access, None)
            .await
            .unwrap();
        astros.push((login.id, actor));
    }
    let ids: Vec<uuid::Uuid> = astros.iter().map(|(id, _)| *id).collect();
    for (_, actor) in &astros {
        world.app.core.connection_opened(actor).await.unwrap();
    }
    let go = async {
        for (_, actor) in &astros {
            world.app.core.connection_closed(actor);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let read = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut reads = 0;
        loop {
            let now = presence(&world, &world.user, "/api/presence", &ids).await;
            reads += 1;
            for p in &now {
                assert!(
                    p["online"] == true || p["lastSeen"].is_string(),
                    "offline without a last seen, read {reads}: {p}"
                );
            }
            let gone = now.iter().filter(|p| p["online"] == false).count();
            if (reads > 1 && gone == ids.len()) || tokio::time::Instant::now() > deadline {
                break gone;
            }
        }
    };
    let ((), gone) = tokio::join!(go, read);
    assert_eq!(gone, ids.len(), "all offline after the grace");
}
