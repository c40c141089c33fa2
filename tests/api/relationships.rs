//! Who may talk to whom (seed 004): the relationship matrix, consultations,
//! chat requests, blocks, contact sync.

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::Login;
use crate::world::World;

/// The status and code a request is refused with; `None` when allowed.
type Refusal = Option<(u16, &'static str)>;

#[tokio::test]
async fn the_relationship_matrix_decides_who_opens_and_sends_to_whom() {
    let w = World::new().await;
    let second_admin = w
        .app
        .participant_login(&w.tenant, ParticipantType::Admin, "Ada")
        .await;
    let other_astro = w
        .app
        .participant_login(&w.tenant, ParticipantType::Astrologer, "Bela")
        .await;
    let open = async |from: &Login, to: uuid::Uuid| {
        w.app
            .post(
                "/api/conversations",
                Some(&from.access),
                json!({ "participantId": to }),
            )
            .await
    };

    // (from, to, refusal) — both opening a conversation and sending directly
    // (`POST /api/messages {to}`) follow the same rules, whatever the policy allows.
    let ghost = uuid::Uuid::now_v7();
    let matrix: [(&Login, uuid::Uuid, Refusal); 12] = [
        (&w.admin, w.astro.id, None),
        (&w.astro, second_admin.id, None),
        (&w.user, w.astro.id, None),
        (&w.astro, w.user.id, None),
        (&w.stranger, w.astro.id, Some((403, "no_relationship"))),
        (&w.astro, w.stranger.id, Some((403, "no_relationship"))),
        (&w.user, w.stranger.id, Some((403, "not_allowed"))),
        (&w.admin, w.user.id, Some((403, "not_allowed"))),
        (&w.astro, other_astro.id, Some((403, "not_allowed"))),
        (&w.admin, second_admin.id, Some((403, "not_allowed"))),
        (&w.user, w.user.id, Some((422, "validation_failed"))),
        (&w.user, ghost, Some((404, "not_found"))),
    ];
    for (from, to, refusal) in matrix {
        let opened = open(from, to).await;
        let sent = w
            .app
            .post(
                "/api/messages",
                Some(&from.access),
                json!({ "to": to, "content": "hi" }),
            )
            .await;
        for res in [opened, sent] {
            match refusal {
                None => assert!(res.status.is_success(), "{} -> {to}: {}", from.id, res.body),
                Some((status, code)) => res.assert_error(status, code),
            }
        }
    }

    // A consultation opens the way.
    w.consult(&w.stranger).await;
    let id = w.open(&w.stranger, &w.astro).await;
    let sent = w.send(&w.stranger, &id, "hello").await;
    assert_eq!(sent["senderType"], json!("user"));
}

#[tokio::test]
async fn only_members_send_into_a_conversation() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    w.app
        .post(
            &path,
            Some(&w.stranger.access),
            json!({ "content": "let me in" }),
        )
        .await
        .assert_error(404, "not_found");
    // An admin may look in but not speak in a conversation they are not part of.
    w.app.get(&path, &w.admin.access).await.data();
    w.app
        .post(&path, Some(&w.admin.access), json!({ "content": "hi" }))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn an_accepted_chat_request_lets_a_user_message_the_astrologer() {
    let w = World::new().await;
    let ask = json!({ "to": w.astro.id, "note": "About my chart" });
    let asked = w
        .app
        .post("/api/chat-requests", Some(&w.stranger.access), ask.clone())
        .await;
    let request = asked.data()["id"].as_str().unwrap().to_owned();
    // Asking again returns the same pending request.
    let again = w
        .app
        .post("/api/chat-requests", Some(&w.stranger.access), ask)
        .await;
    assert_eq!(again.data()["id"], json!(request));
    w.app
        .post(
            "/api/conversations",
            Some(&w.stranger.access),
            json!({ "participantId": w.astro.id }),
        )
        .await
        .assert_error(403, "no_relationship");

    let incoming = w
        .app
        .get("/api/chat-requests?status=pending", &w.astro.access)
        .await;
    assert_eq!(incoming.data()[0]["note"], json!("About my chart"));
    let outgoing = w
        .app
        .get("/api/chat-requests?direction=outgoing", &w.stranger.access)
        .await;
    assert_eq!(outgoing.data().as_array().unwrap().len(), 1);
    // Only the astrologer answers; the sender gets a 404.
    let accept = format!("/api/chat-requests/{request}/accept");
    w.app
        .post(&accept, Some(&w.stranger.access), json!({}))
        .await
        .assert_error(404, "not_found");

    let answered = w.app.post(&accept, Some(&w.astro.access), json!({})).await;
    assert_eq!(answered.data()["request"]["status"], json!("accepted"));
    let conversation = answered.data()["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.send(&w.stranger, &conversation, "thank you").await;
    w.app
        .post(&accept, Some(&w.astro.access), json!({}))
        .await
        .assert_error(409, "already_answered");
}

#[tokio::test]
async fn a_declined_request_opens_nothing_and_only_users_ask_astrologers() {
    let w = World::new().await;
    let asked = w
        .app
        .post(
            "/api/chat-requests",
            Some(&w.stranger.access),
            json!({ "to": w.astro.id }),
        )
        .await;
    let request = asked.data()["id"].as_str().unwrap().to_owned();
    let answered = w
        .app
        .post(
            &format!("/api/chat-requests/{request}/decline"),
            Some(&w.astro.access),
            json!({}),
        )
        .await;
    assert_eq!(answered.data()["request"]["status"], json!("declined"));
    assert!(answered.data()["conversation"].is_null());
    w.app
        .post(
            "/api/conversations",
            Some(&w.stranger.access),
            json!({ "participantId": w.astro.id }),
        )
        .await
        .assert_error(403, "no_relationship");
    w.app
        .post(
            "/api/chat-requests",
            Some(&w.astro.access),
            json!({ "to": w.user.id }),
        )
        .await
        .assert_error(403, "not_allowed");
}

#[tokio::test]
async fn a_block_stops_messages_both_ways_until_lifted() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    w.send(&w.user, &id, "before").await;
    w.app
        .post(
            "/api/blocks",
            Some(&w.user.access),
            json!({ "participantId": w.astro.id }),
        )
        .await
        .data();
    assert_eq!(
        w.app.get("/api/blocks", &w.user.access).await.data(),
        &json!([w.astro.id])
    );

    let path = format!("/api/conversations/{id}/messages");
    for who in [&w.user, &w.astro] {
        w.app
            .post(&path, Some(&who.access), json!({ "content": "blocked?" }))
            .await
            .assert_error(403, "blocked");
    }
    w.app
        .post(
            "/api/conversations",
            Some(&w.astro.access),
            json!({ "participantId": w.user.id }),
        )
        .await
        .assert_error(403, "blocked");

    w.call(
        &w.user,
        Method::DELETE,
        &format!("/api/blocks/{}", w.astro.id),
        None,
    )
    .await
    .data();
    w.send(&w.astro, &id, "after").await;
}

#[tokio::test]
async fn consultations_are_recorded_by_the_tenants_backend_and_read_by_their_parties() {
    let w = World::new().await;
    let key = w
        .app
        .post(
            "/api/api-keys",
            Some(&w.admin.access),
            json!({ "name": "crm", "scopes": ["write", "read"] }),
        )
        .await;
    let key = key.data()["key"].as_str().unwrap().to_owned();
    let record = |body| {
        w.app.send(
            w.app
                .raw(Method::POST, "/api/consultations")
                .header("x-api-key", &key)
                .json(&body),
        )
    };

    let first = record(json!({ "userId": w.stranger.id, "astrologerId": w.astro.id, "externalId": "c-77", "status": "requested" })).await;
    let id = first.data()["id"].clone();
    // The same externalId updates instead of adding.
    let again = record(json!({ "userId": w.stranger.id, "astrologerId": w.astro.id, "externalId": "c-77", "status": "completed" })).await;
    assert_eq!(again.data()["id"], id);
    assert_eq!(again.data()["status"], json!("completed"));
    record(json!({ "userId": w.user.id, "astrologerId": w.astro.id, "externalId": "c-77" }))
        .await
        .assert_error(409, "external_id_taken");
    record(json!({ "userId": w.astro.id, "astrologerId": w.user.id }))
        .await
        .assert_error(422, "validation_failed");

    let mine = w.app.get("/api/consultations", &w.stranger.access).await;
    assert_eq!(mine.data()["items"].as_array().unwrap().len(), 1);
    let astro_sees = w.app.get("/api/consultations", &w.astro.access).await;
    assert_eq!(astro_sees.data()["items"].as_array().unwrap().len(), 2);
    let cancelled = w
        .app
        .patch(
            &format!("/api/consultations/{}", id.as_str().unwrap()),
            &w.admin.access,
            json!({ "status": "cancelled" }),
        )
        .await;
    assert_eq!(cancelled.data()["status"], json!("cancelled"));
    // A cancelled consultation is no relationship.
    w.app
        .post(
            "/api/conversations",
            Some(&w.stranger.access),
            json!({ "participantId": w.astro.id }),
        )
        .await
        .assert_error(403, "no_relationship");
}

#[tokio::test]
async fn contact_sync_finds_the_participants_a_caller_may_see() {
    let w = World::new().await;
    let admin = &w.admin.access;
    w.app
        .patch(
            &format!("/api/participants/{}", w.astro.id),
            admin,
            json!({ "phone": "+919800000001" }),
        )
        .await
        .data();
    w.app
        .patch(
            &format!("/api/participants/{}", w.stranger.id),
            admin,
            json!({ "phone": "+919800000002" }),
        )
        .await
        .data();

    let res = w
        .app
        .post(
            "/api/contacts/sync",
            Some(&w.user.access),
            json!({ "phones": ["09800000001", "+919800000002", "junk"] }),
        )
        .await;
    let found = res.data().as_array().unwrap().clone();
    assert_eq!(
        found.len(),
        1,
        "users find astrologers, not other users: {found:?}"
    );
    assert_eq!(found[0]["phone"], json!("09800000001"));
    assert_eq!(found[0]["participant"]["id"], json!(w.astro.id));

    let chat = w
        .app
        .post(
            "/api/contacts/start-chat",
            Some(&w.user.access),
            json!({ "phone": "09800000001" }),
        )
        .await;
    assert_eq!(chat.data()["type"], json!("user_astrologer"));
}
