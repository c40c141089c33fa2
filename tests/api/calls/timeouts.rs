//! Calls that end on their own: ring timeouts (also across a restart) and
//! a party's last connection dropping.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn an_unanswered_call_is_missed_after_the_tenant_ring_timeout() {
    let world = world().await;
    configure_agora(&world).await;
    world.settings(json!({ "ringTimeoutSeconds": 1 })).await;
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
    // The sweeper writes the entry after the call's end is committed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let entries = loop {
        let entries = call_entries(&world, &world.astro, conversation).await;
        if !entries.is_empty() || tokio::time::Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(entries[0]["content"], "Missed voice call", "{entries:?}");
    // And in the astrologer's inbox.
    let inbox = crate::world::inbox_until(&world.app, &world.astro, |i| {
        i.iter().any(|n| n["type"] == "missed_call")
    })
    .await;
    let missed = inbox.iter().find(|n| n["type"] == "missed_call").unwrap();
    assert_eq!(missed["body"], "Missed voice call");
    assert_eq!(missed["subjectId"], json!(id));
}

#[tokio::test]
async fn a_ringing_call_still_times_out_after_a_restart() {
    let world = world().await;
    configure_agora(&world).await;
    world.settings(json!({ "ringTimeoutSeconds": 2 })).await;
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
