//! The round trip on the S3 implementation, against a real S3-protocol
//! server (moto) that the test starts: upload, send, read back byte
//! identical, a range, thumbnails made and stored there, deletion.

use reqwest::Method;

use super::{fetch, fixture, random_bytes, send_files, upload};
use crate::{
    helpers::{TestApp, s3::MotoServer},
    world::World,
};

#[tokio::test]
async fn files_round_trip_through_an_s3_service() {
    let moto = MotoServer::start().await;
    moto.create_bucket("samvad-files").await;
    let s3 = moto.bucket_config("samvad-files");
    let world = World::in_app(TestApp::spawn_with(|c| c.s3 = Some(s3)).await, "acme").await;
    let conversation = world.open(&world.user, &world.astro).await;
    // Bigger than one multipart part (5 MiB).
    let bytes = random_bytes(6 * 1024 * 1024 + 123);

    let file = upload(&world, &world.user, "big.bin", bytes.clone()).await;
    let message = send_files(
        &world,
        &world.user,
        &conversation,
        &[file["id"].as_str().unwrap()],
    )
    .await
    .data()
    .clone();
    let url = message["files"][0]["url"].as_str().unwrap();
    let (status, _, body) = fetch(&world, url, &[]).await;
    assert_eq!(status, 200);
    assert!(body == bytes, "the bytes read back differ");
    let (status, headers, part) = fetch(&world, url, &[("Range", "bytes=5242870-5242889")]).await;
    assert_eq!(status, 206);
    assert_eq!(part, bytes[5_242_870..5_242_890]);
    assert_eq!(
        headers["content-range"],
        format!("bytes 5242870-5242889/{}", bytes.len())
    );

    let image = upload(&world, &world.user, "p.jpg", fixture("photo-rot6-gps.jpg")).await;
    let small = super::thumbnails_made(&world, &image).await["small"].clone();
    let (status, headers, _) = fetch(&world, small["url"].as_str().unwrap(), &[]).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "image/jpeg")
    );

    world
        .call(
            &world.user,
            Method::DELETE,
            &format!("/api/files/{}", image["id"].as_str().unwrap()),
            None,
        )
        .await
        .data();
    // The worker, woken by the deletion, removes the objects and the row
    // (or this sweep does, whichever comes first).
    world.app.core.sweep_files(100).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM files WHERE state = 'deleted'")
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let bucket = samvad::storage::Storage::s3(&moto.bucket_config("samvad-files")).unwrap();
    let key = format!(
        "t/{}/{}/original",
        world.tenant.id,
        image["id"].as_str().unwrap()
    );
    assert!(
        !bucket.exists(&key).await.unwrap(),
        "the object was deleted from the bucket"
    );
    assert!(
        !bucket
            .exists(&key.replace("original", "small"))
            .await
            .unwrap()
    );
}
