//! The rules of uploads: the type comes from the bytes, programs and kinds
//! the tenant does not take are refused, limits cut a stream off while it
//! arrives (nothing kept), images are held to a pixel cap and lose their
//! metadata, and anything a browser could run is served as a sandboxed
//! attachment.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    FILE_PART, fetch, fixture, random_bytes, raw_upload, spooled, stored_files, try_upload, upload,
};
use crate::world::World;

/// A PNG whose header claims `width` x `height` (a decompression bomb
/// when large): the signature, an IHDR with its CRC, an empty IDAT, IEND.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[tokio::test]
async fn html_is_served_only_as_a_sandboxed_attachment() {
    let world = World::new().await;
    let file = upload(
        &world,
        &world.user,
        "page.png",
        b"<!DOCTYPE html><script>alert(1)</script>".to_vec(),
    )
    .await;
    assert_eq!(file["kind"], "file");
    assert_eq!(file["mimeType"], "text/html");

    let (status, headers, _) = fetch(&world, file["url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(headers["content-type"], "application/octet-stream");
}

#[tokio::test]
async fn programs_and_kinds_the_tenant_does_not_take_are_refused_by_their_bytes() {
    let world = World::new().await;
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend(random_bytes(4000));
    try_upload(&world, &world.user, "notes.txt", elf)
        .await
        .assert_error(415, "file_type_not_allowed");
    world
        .settings(json!({ "media": { "allowedKinds": ["image", "file"] } }))
        .await;
    try_upload(&world, &world.user, "a.png", fixture("tone.mp3"))
        .await
        .assert_error(415, "file_type_not_allowed");
    try_upload(&world, &world.user, "e.bin", vec![])
        .await
        .assert_error(422, "validation_failed");
    world
        .app
        .send(
            world
                .app
                .raw(reqwest::Method::POST, "/api/files/upload")
                .bearer_auth(&world.user.access)
                .json(&json!({ "file": "x" })),
        )
        .await
        .assert_error(415, "unsupported_media_type");
    assert_eq!(stored_files(&world).await, 0);
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_and_a_photo_loses_its_gps_and_stands_upright() {
    let world = World::new().await;
    try_upload(
        &world,
        &world.user,
        "bomb.png",
        png_claiming(20_000, 20_000),
    )
    .await
    .assert_error(422, "image_too_large");

    let original = fixture("photo-rot6-gps.jpg");
    let photo = upload(&world, &world.user, "p.jpg", original.clone()).await;
    assert_eq!(photo["kind"], "image");
    let (status, _, served) = fetch(&world, photo["url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 200);
    assert!(
        served.windows(4).all(|w| w != b"Exif"),
        "EXIF must be stripped"
    );
    assert!(original.windows(4).any(|w| w == b"Exif"));
    // Orientation 6: stored landscape, shown (and reported) portrait.
    assert!(
        photo["height"].as_u64() > photo["width"].as_u64(),
        "{photo}"
    );
}

#[tokio::test]
async fn an_oversize_stream_is_cut_off_with_413_while_it_arrives_and_nothing_is_kept() {
    let world = World::new().await;
    world
        .settings(json!({ "media": { "fileMaxBytes": 65536 } }))
        .await;
    let mut socket = raw_upload(&world, None).await;
    let chunk = |data: &[u8]| {
        let mut c = format!("{:x}\r\n", data.len()).into_bytes();
        c.extend_from_slice(data);
        c.extend_from_slice(b"\r\n");
        c
    };
    socket.write_all(&chunk(FILE_PART)).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    // Up to 64 MiB unless the server answers first: it must not read it all.
    let writer = tokio::spawn(async move {
        let block = chunk(&random_bytes(16 * 1024));
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 {
            if write.write_all(&block).await.is_err() {
                break;
            }
            sent += 16 * 1024;
        }
        sent
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = read.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed without answering");
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(read);
    let sent = writer.await.unwrap();
    assert!(sent < 64 * 1024 * 1024, "the server read the whole upload");
    assert_eq!(stored_files(&world).await, 0);
    assert_eq!(spooled(&world), 0);
}

#[tokio::test]
async fn an_upload_past_the_tenants_quota_is_refused() {
    let world = World::new().await;
    world
        .settings(json!({ "media": { "storageQuotaBytes": 1_048_576 } }))
        .await;
    upload(&world, &world.user, "a.bin", random_bytes(1_000_000)).await;
    try_upload(&world, &world.user, "b.bin", random_bytes(100_000))
        .await
        .assert_error(413, "storage_quota_exceeded");
    world
        .app
        .patch(
            "/api/settings",
            &world.admin.access,
            json!({ "media": { "imageMaxBytes": 12 } }),
        )
        .await
        .assert_error(422, "validation_failed");
    world
        .app
        .patch(
            "/api/settings",
            &world.admin.access,
            json!({ "media": { "allowedKinds": [] } }),
        )
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn a_file_smaller_than_the_sniffed_head_is_still_held_to_its_kinds_limit() {
    let world = World::new().await;
    world
        .settings(json!({ "media": { "imageMaxBytes": 2048 } }))
        .await;
    try_upload(&world, &world.user, "p.jpg", fixture("photo-rot6-gps.jpg"))
        .await
        .assert_error(413, "file_too_large");
    assert_eq!(stored_files(&world).await, 0);
}
