//! The media worker: thumbnails made off the request path, files never
//! sent removed after a day, and an upload cut off half way leaving
//! nothing behind.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::{FILE_PART, fetch, fixture, random_bytes, raw_upload, spooled, stored_files, upload};
use crate::world::World;

#[tokio::test]
async fn the_worker_makes_both_thumbnails_of_an_uploaded_photo() {
    let world = World::new().await;
    let photo = upload(&world, &world.user, "p.jpg", fixture("photo-rot6-gps.jpg")).await;
    let file = serde_json::json!({ "thumbnails": super::thumbnails_made(&world, &photo).await });
    let small = &file["thumbnails"]["small"];
    assert!(small["width"].as_u64().unwrap() <= 96 && small["height"].as_u64().unwrap() <= 96);
    assert!(file["thumbnails"]["medium"]["height"].as_u64().unwrap() <= 480);
    let (status, headers, body) = fetch(&world, small["url"].as_str().unwrap(), &[]).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "image/jpeg")
    );
    assert!(body.len() < photo["size"].as_u64().unwrap() as usize);
}

#[tokio::test]
async fn a_file_never_sent_is_removed_after_a_day() {
    let world = World::new().await;
    let kept = upload(&world, &world.user, "new.bin", random_bytes(2000)).await;
    let old = upload(&world, &world.user, "old.bin", random_bytes(2000)).await;
    sqlx::query("UPDATE files SET created_at = created_at - INTERVAL 25 HOUR WHERE id = ?")
        .bind(uuid::Uuid::parse_str(old["id"].as_str().unwrap()).unwrap())
        .execute(&world.app.pool)
        .await
        .unwrap();

    world.app.core.sweep_files(100).await.unwrap();

    world
        .app
        .get(
            &format!("/api/files/{}", old["id"].as_str().unwrap()),
            &world.user.access,
        )
        .await
        .assert_error(404, "not_found");
    assert_eq!(stored_files(&world).await, 1);
    assert_eq!(
        fetch(&world, old["url"].as_str().unwrap(), &[]).await.0,
        404
    );
    assert_eq!(
        fetch(&world, kept["url"].as_str().unwrap(), &[]).await.0,
        200
    );
    let on_disk = walk(&world.app.state.config.data_dir.join("files"));
    assert_eq!(on_disk, 1, "only the kept file's object remains");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn an_upload_cut_off_half_way_leaves_nothing_behind() {
    let world = World::new().await;
    let mut socket = raw_upload(&world, Some(1_000_000)).await;
    socket.write_all(FILE_PART).await.unwrap();
    socket.write_all(&random_bytes(300_000)).await.unwrap();
    socket.flush().await.unwrap();
    // Wait until the server has spooled some of it, then go away.
    for _ in 0..200 {
        if spooled(&world) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(spooled(&world), 1, "the upload was being spooled");
    drop(socket);

    for _ in 0..200 {
        if spooled(&world) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(spooled(&world), 0, "the spool file was removed");
    assert_eq!(stored_files(&world).await, 0);
}
