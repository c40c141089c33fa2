//! Who may read and delete a file: its uploader, the conversation's
//! members, the tenant's admins; nobody of another tenant; signed links
//! that are tampered with or expired; links of deleted messages.

use reqwest::Method;
use samvad::domain::{FileId, TenantId, file::Variant, participant::ParticipantType};
use serde_json::json;

use super::{fetch, random_bytes, send_files, upload};
use crate::world::World;

#[tokio::test]
async fn an_unsent_file_is_its_uploaders_alone_and_a_sent_one_its_conversations() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let file = upload(&world, &world.user, "a.bin", random_bytes(2000)).await;
    let path = format!("/api/files/{}", file["id"].as_str().unwrap());

    world.app.get(&path, &world.user.access).await.data();
    world
        .app
        .get(&path, &world.astro.access)
        .await
        .assert_error(404, "not_found");
    world.app.get(&path, &world.admin.access).await.data();

    send_files(
        &world,
        &world.user,
        &conversation,
        &[file["id"].as_str().unwrap()],
    )
    .await
    .data();
    world.app.get(&path, &world.astro.access).await.data();
    world
        .app
        .get(&path, &world.stranger.access)
        .await
        .assert_error(404, "not_found");
    // Someone who cannot read it cannot send it either.
    world.consult(&world.stranger).await;
    let other = world.open(&world.stranger, &world.astro).await;
    send_files(
        &world,
        &world.stranger,
        &other,
        &[file["id"].as_str().unwrap()],
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn another_tenants_file_is_not_found_for_reading_sending_and_deleting() {
    let world = World::new().await;
    let file = upload(&world, &world.user, "a.bin", random_bytes(2000)).await;
    let id = file["id"].as_str().unwrap();
    let app = &world.app;
    let rival = app.tenant("rival").await;
    let admin = app.login_admin(&rival).await;
    let astro = app
        .participant_login(&rival, ParticipantType::Astrologer, "Ravi")
        .await;
    let path = format!("/api/files/{id}");

    app.get(&path, &admin.access)
        .await
        .assert_error(404, "not_found");
    app.call(Method::DELETE, &path, Some(&admin.access), None)
        .await
        .assert_error(404, "not_found");
    let conversation = app
        .post(
            "/api/conversations",
            Some(&admin.access),
            json!({ "participantId": astro.id }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/api/conversations/{conversation}/messages"),
        Some(&admin.access),
        json!({ "fileId": id }),
    )
    .await
    .assert_error(404, "not_found");
    app.get(&path, &world.user.access).await.data();
}

#[tokio::test]
async fn a_tampered_or_expired_link_is_403_and_a_link_naming_another_tenant_too() {
    let world = World::new().await;
    let file = upload(&world, &world.user, "a.bin", random_bytes(2000)).await;
    let url = file["url"].as_str().unwrap();
    assert_eq!(fetch(&world, url, &[]).await.0, 200);

    let tampered = format!("{}x", url);
    assert_eq!(fetch(&world, &tampered, &[]).await.0, 403);
    let id = FileId(file["id"].as_str().unwrap().parse().unwrap());
    let tenant = TenantId(world.tenant.id);
    let links = world.app.core.file_links();
    let past = chrono::Utc::now() - chrono::Duration::seconds(5);
    let expired = links.url_for(tenant, id, Variant::Original, past);
    let (status, _, body) = fetch(&world, &expired, &[]).await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "bad_link"
    );
    let elsewhere = links.url_for(
        TenantId::new(),
        id,
        Variant::Original,
        chrono::Utc::now() + chrono::Duration::minutes(5),
    );
    assert_eq!(fetch(&world, &elsewhere, &[]).await.0, 404);
}

#[tokio::test]
async fn the_uploader_deletes_an_unsent_file_but_not_a_sent_one_and_admins_delete_any() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let unsent = upload(&world, &world.user, "a.bin", random_bytes(2000)).await;
    let sent = upload(&world, &world.user, "b.bin", random_bytes(3000)).await;
    send_files(
        &world,
        &world.user,
        &conversation,
        &[sent["id"].as_str().unwrap()],
    )
    .await
    .data();
    let path = |f: &serde_json::Value| format!("/api/files/{}", f["id"].as_str().unwrap());

    world
        .call(&world.astro, Method::DELETE, &path(&unsent), None)
        .await
        .assert_error(404, "not_found");
    world
        .call(&world.user, Method::DELETE, &path(&unsent), None)
        .await
        .data();
    world
        .app
        .get(&path(&unsent), &world.user.access)
        .await
        .assert_error(404, "not_found");
    assert_eq!(
        fetch(&world, unsent["url"].as_str().unwrap(), &[]).await.0,
        404
    );
    world
        .call(&world.user, Method::DELETE, &path(&sent), None)
        .await
        .assert_error(409, "file_sent");
    world
        .call(&world.admin, Method::DELETE, &path(&sent), None)
        .await
        .data();
    assert_eq!(
        fetch(&world, sent["url"].as_str().unwrap(), &[]).await.0,
        404
    );
}

#[tokio::test]
async fn deleting_a_message_for_everyone_revokes_its_files_links_and_forwarding_keeps_them() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let file = upload(&world, &world.user, "a.bin", random_bytes(2000)).await;
    let message = send_files(
        &world,
        &world.user,
        &conversation,
        &[file["id"].as_str().unwrap()],
    )
    .await
    .data()
    .clone();
    let url = message["files"][0]["url"].as_str().unwrap().to_owned();
    // The astrologer, who received it, forwards it to the admin.
    let with_admin = world.open(&world.astro, &world.admin).await;
    let forwarded = world
        .app
        .post(
            &format!("/api/messages/{}/forward", message["id"].as_str().unwrap()),
            Some(&world.astro.access),
            json!({ "conversationId": with_admin }),
        )
        .await;
    let forwarded = forwarded.data();
    assert_eq!(forwarded["files"][0]["id"], file["id"]);

    world
        .call(
            &world.user,
            Method::DELETE,
            &format!(
                "/api/messages/{}?forEveryone=true",
                message["id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .data();
    // Still carried by the forward: still there.
    assert_eq!(fetch(&world, &url, &[]).await.0, 200);
    world
        .call(
            &world.astro,
            Method::DELETE,
            &format!(
                "/api/messages/{}?forEveryone=true",
                forwarded["id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .data();
    assert_eq!(fetch(&world, &url, &[]).await.0, 404);
    let history = world.history(&world.astro, &conversation).await;
    assert_eq!(history[0]["files"], json!([]));
}
