//! Files: uploads, sending them, reading them back through signed links,
//! the rules (types from the bytes, sizes, bombs, active content), access
//! and tenancy, deletion and the sweeps, and both storages. `storage.rs`
//! runs the round trip against a real S3-protocol server (moto);
//! `scanning.rs` against a clamd-speaking server in the test process.

mod access;
mod rules;
mod scanning;
mod storage;
mod upkeep;

use reqwest::{Method, multipart};
use serde_json::{Value, json};

use crate::{
    helpers::{Login, Res},
    world::World,
};

/// A fixture's bytes (`tests/fixtures/media/`).
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/media/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

/// Bytes that sniff as nothing in particular (a generic file).
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
    bytes[0] = 0x01;
    bytes
}

/// A form with `file` and text fields.
pub fn form(field: &str, name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> multipart::Form {
    let mut form = multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form.part(
        field.to_owned(),
        multipart::Part::bytes(bytes).file_name(name.to_owned()),
    )
}

/// Posts a multipart form as `who`.
pub async fn post_form(world: &World, who: &Login, path: &str, form: multipart::Form) -> Res {
    world
        .app
        .send(
            world
                .app
                .raw(Method::POST, path)
                .bearer_auth(&who.access)
                .multipart(form),
        )
        .await
}

/// Uploads `bytes` as `who` (`POST /api/files/upload`): the answer.
pub async fn try_upload(world: &World, who: &Login, name: &str, bytes: Vec<u8>) -> Res {
    post_form(
        world,
        who,
        "/api/files/upload",
        form("file", name, bytes, &[]),
    )
    .await
}

/// Uploads `bytes` as `who`: the file object.
pub async fn upload(world: &World, who: &Login, name: &str, bytes: Vec<u8>) -> Value {
    try_upload(world, who, name, bytes).await.data().clone()
}

/// Fetches a signed link without credentials: status, headers, bytes.
pub async fn fetch(
    world: &World,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = reqwest::Client::new().get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let _ = world;
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

/// Files rows in the test's database, in any state.
pub async fn stored_files(world: &World) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM files")
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
    n
}

/// Uploads being spooled (temporary files) right now.
pub fn spooled(world: &World) -> usize {
    std::fs::read_dir(world.app.state.config.data_dir.join("spool"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Opens a raw connection and sends the head of an upload as `world.user`
/// (`length`: a `Content-Length`, else chunked), then the file part's
/// own header when `length` is given; the caller sends the bytes.
pub async fn raw_upload(world: &World, length: Option<usize>) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = world.app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let framing = match length {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_owned(),
    };
    let head = format!(
        "POST /api/files/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\n{framing}\r\n\r\n",
        world.user.access
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
}

/// The multipart header of the file part of [`raw_upload`].
pub const FILE_PART: &[u8] =
    b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n";

/// Waits until the media worker (woken by the upload) has made an
/// image's thumbnails: the file's `thumbnails`.
pub async fn thumbnails_made(world: &World, image: &Value) -> Value {
    let path = format!("/api/files/{}", image["id"].as_str().unwrap());
    for _ in 0..400 {
        let file = world
            .app
            .get(&path, &world.user.access)
            .await
            .data()
            .clone();
        if file["thumbnails"]["ready"] == true {
            return file["thumbnails"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the thumbnails of {path} were not made within 10 s");
}

/// Sends uploaded files into a conversation: the message.
pub async fn send_files(world: &World, who: &Login, conversation: &str, files: &[&str]) -> Res {
    world
        .app
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&who.access),
            json!({ "fileIds": files, "content": "look" }),
        )
        .await
}

#[tokio::test]
async fn a_file_uploaded_then_sent_reaches_the_other_member_and_downloads_byte_identical() {
    // Arrange
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let bytes = random_bytes(300_000);

    // Act
    let file = upload(&world, &world.user, "notes.bin", bytes.clone()).await;
    let sent = send_files(
        &world,
        &world.user,
        &conversation,
        &[file["id"].as_str().unwrap()],
    )
    .await;

    // Assert
    let message = sent.data();
    assert_eq!(message["type"], "file");
    assert_eq!(message["files"][0]["id"], file["id"]);
    assert_eq!(message["files"][0]["name"], "notes.bin");
    assert_eq!(message["files"][0]["size"], 300_000);
    assert!(message["files"][0]["sentAt"].is_string());
    assert_eq!(message["mediaUrl"], message["files"][0]["url"]);
    let seen = world.history(&world.astro, &conversation).await;
    let url = seen[0]["files"][0]["url"].as_str().unwrap().to_owned();
    let (status, headers, body) = fetch(&world, &url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    assert_eq!(headers["accept-ranges"], "bytes");
    assert!(headers["etag"].to_str().unwrap().starts_with('"'));
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );

    let (status, headers, part) = fetch(&world, &url, &[("Range", "bytes=100-199")]).await;
    assert_eq!(status, 206);
    assert_eq!(part, bytes[100..200]);
    assert_eq!(headers["content-range"], "bytes 100-199/300000");
    let (status, _, tail) = fetch(&world, &url, &[("Range", "bytes=-10")]).await;
    assert_eq!((status, tail.as_slice()), (206, &bytes[bytes.len() - 10..]));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = fetch(&world, &url, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 304);
}

#[tokio::test]
async fn upload_and_send_in_one_request_takes_the_type_from_the_bytes_and_the_direct_path_works() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;

    let sent = post_form(
        &world,
        &world.user,
        "/messages/upload",
        form(
            "file",
            "palm.exe",
            fixture("text-chunk.png"),
            &[
                ("conversationId", &conversation),
                ("content", "my palm"),
                ("clientMsgId", "u-1"),
            ],
        ),
    )
    .await;

    let message = sent.data();
    assert_eq!(message["type"], "image");
    assert_eq!(message["content"], "my palm");
    assert_eq!(message["files"][0]["kind"], "image");
    assert_eq!(message["files"][0]["mimeType"], "image/png");
    assert!(message["files"][0]["width"].as_u64().unwrap() > 0);
    assert!(message["files"][0]["thumbnails"]["small"]["url"].is_string());
    let (status, headers, _) =
        fetch(&world, message["files"][0]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
}

#[tokio::test]
async fn a_voice_message_carries_the_duration_read_from_the_recording_and_its_waveform() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;

    let sent = post_form(
        &world,
        &world.astro,
        "/api/messages/voice",
        form(
            "audio",
            "rec.m4a",
            fixture("tone.m4a"),
            &[
                ("to", &world.user.id.to_string()),
                ("durationMs", "9999"),
                ("waveform", "[0, 0.5, 1]"),
            ],
        ),
    )
    .await;

    let message = sent.data();
    assert_eq!(message["type"], "audio");
    assert_eq!(message["conversationId"], conversation.as_str());
    let ms = message["files"][0]["durationMs"].as_u64().unwrap();
    assert!((1850..=2150).contains(&ms), "{ms}");
    assert_eq!(message["files"][0]["waveform"], json!([0.0, 0.5, 1.0]));
    // A voice message must be audio.
    post_form(
        &world,
        &world.astro,
        "/api/messages/voice",
        form(
            "audio",
            "x.png",
            fixture("text-chunk.png"),
            &[("conversationId", &conversation)],
        ),
    )
    .await
    .assert_error(422, "not_audio");
}
