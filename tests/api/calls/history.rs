//! The call history (filters, pages, who sees what) and another tenant's
//! calls.

use serde_json::json;

use super::*;
use crate::helpers::Login;

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

/// Whether the world's one call still owes its conversation an entry.
async fn owes_entry(world: &World) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT entry_due_at IS NOT NULL FROM calls")
        .fetch_one(&world.app.pool)
        .await
        .unwrap()
}

/// As if the node had died right after the call's end committed.
async fn owe_entry_since_a_minute(world: &World) {
    sqlx::query("UPDATE calls SET entry_due_at = NOW(3) - INTERVAL 1 MINUTE")
        .execute(&world.app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_entry_a_call_still_owes_is_written_by_the_sweeper_and_only_once() {
    let world = world().await;
    configure_agora(&world).await;
    let id = id_of(&initiate(&world, &world.admin, &world.astro).await);
    let ended = call_as(&world, &world.admin, &id, "end").await;
    let conversation = ended.data()["conversationId"].as_str().unwrap().to_owned();
    // The caller cannot take the entry's client id first (which would
    // leave the entry unwritten).
    world
        .app
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&world.admin.access),
            json!({ "content": "no call here", "clientMsgId": format!("samvad:call:{id}") }),
        )
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(
        call_entries(&world, &world.astro, &conversation)
            .await
            .len(),
        1
    );
    assert!(!owes_entry(&world).await, "written, so no longer owed");

    // The entry was written but the node died before noting it: the
    // sweeper's second write is a resend, not a second entry.
    owe_entry_since_a_minute(&world).await;
    world.app.core.sweep_calls().await.unwrap();
    assert_eq!(
        call_entries(&world, &world.astro, &conversation)
            .await
            .len(),
        1
    );
    assert!(!owes_entry(&world).await);

    // The entry was never written (the writer refused it, or the node died
    // first): the sweeper writes it.
    sqlx::query("DELETE FROM messages WHERE type = 'call'")
        .execute(&world.app.pool)
        .await
        .unwrap();
    owe_entry_since_a_minute(&world).await;
    world.app.core.sweep_calls().await.unwrap();
    let entries = call_entries(&world, &world.astro, &conversation).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["metadata"]["callId"], json!(id));
    assert_eq!(
        entries[0]["clientMsgId"],
        json!(format!("samvad:call:{id}"))
    );
    assert_eq!(entries[0]["senderId"], json!(world.admin.id));
    assert!(!owes_entry(&world).await);
    world.app.core.sweep_calls().await.unwrap();
    assert_eq!(
        call_entries(&world, &world.astro, &conversation)
            .await
            .len(),
        1
    );
}
