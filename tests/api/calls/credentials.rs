//! Agora credentials (write-only, validated, admin-only), calls without
//! them, admin tokens and the call rate limit.

use reqwest::Method;
use samvad::agora::{self, AgoraCredentials};
use serde_json::json;

use super::*;

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
async fn only_admins_get_admin_call_tokens_and_calls_beyond_the_rate_get_429() {
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
        .settings(json!({ "callsPerParticipant": { "max": 2, "perSeconds": 3600 } }))
        .await;
    for _ in 0..2 {
        let id = id_of(&initiate(&world, &world.user, &world.astro).await);
        call_as(&world, &world.user, &id, "end").await.data();
    }
    initiate(&world, &world.user, &world.astro)
        .await
        .assert_error(429, "rate_limited");
}
