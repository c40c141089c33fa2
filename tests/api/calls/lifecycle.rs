//! A call's lifecycle: accept and end (with the duration and the entry),
//! reject and cancel, the relationship rules, busy parties.

use serde_json::json;

use super::*;

#[tokio::test]
async fn accepting_then_ending_a_call_records_its_duration_and_an_entry() {
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
async fn only_the_callee_rejects_the_caller_cancels_and_strangers_cannot_call() {
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
