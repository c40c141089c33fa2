//! Media in the console: a conversation shows its photos as thumbnails,
//! voice notes as players with their length, documents as download links,
//! all through signed links a browser fetches without credentials (and the
//! page's CSP lets it); the dashboard shows the storage used against the
//! quota.

use reqwest::header;
use serde_json::json;

use super::Browser;
use crate::{
    files::{fixture, form, post_form, random_bytes, send_files, upload},
    world::World,
};

/// The values of `attribute` on every `<tag ...>` of `html`, unescaped.
fn attributes(html: &str, tag: &str, attribute: &str) -> Vec<String> {
    let open = format!("<{tag} ");
    let marker = format!(" {attribute}=\"");
    html.match_indices(&open)
        .filter_map(|(at, _)| {
            let element = &html[at..at + html[at..].find('>')?];
            let start = element.find(&marker)? + marker.len();
            let end = start + element[start..].find('"')?;
            Some(unescape(&element[start..end]))
        })
        .collect()
}

/// Undoes askama's HTML escaping of an attribute value.
fn unescape(value: &str) -> String {
    value
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#47;", "/")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// GETs a link as a browser's `<img>` or player would: no cookie, no token.
async fn fetch_plain(url: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::get(url).await.expect("GET a signed link");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn a_conversation_shows_photos_voice_notes_and_documents_through_signed_links() {
    // Arrange: a photo, a voice note and a document in one conversation.
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let photo = fixture("text-chunk.png");
    post_form(
        &world,
        &world.user,
        "/api/messages/upload",
        form(
            "file",
            "palm.png",
            photo,
            &[("conversationId", &conversation), ("content", "my palm")],
        ),
    )
    .await
    .data();
    let voice = fixture("tone.m4a");
    post_form(
        &world,
        &world.astro,
        "/api/messages/voice",
        form(
            "audio",
            "reading.m4a",
            voice.clone(),
            &[("conversationId", &conversation)],
        ),
    )
    .await
    .data();
    let notes = upload(&world, &world.user, "notes.bin", random_bytes(300 * 1024)).await;
    let id = notes["id"].as_str().expect("file id");
    send_files(&world, &world.user, &conversation, &[id])
        .await
        .data();
    let browser = Browser::admin(&world.app, &world.tenant).await;

    // Act
    let view = format!("/console/conversations/{conversation}");
    let page = browser.get(&view).await;
    let fragment = browser.get(&format!("{view}/messages?after=0")).await;

    // Assert: the page lets the browser load same-origin images and media.
    page.assert_status(200);
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("img-src 'self'"), "{csp}");
    assert!(csp.contains("media-src 'self'"), "{csp}");
    fragment.assert_status(200);
    for body in [&page.body, &fragment.body] {
        // The photo: its small thumbnail, lazily, sized, linking to the picture.
        let images = attributes(body, "img", "src");
        assert_eq!(images.len(), 1, "{body}");
        assert!(
            images[0].starts_with(&format!("{}/api/files/", world.app.base)),
            "{images:?}"
        );
        assert!(images[0].contains("/thumbnail?size=small&"), "{images:?}");
        assert!(
            body.contains("loading=\"lazy\" width=\"16\" height=\"16\""),
            "{body}"
        );
        assert!(body.contains("my palm"), "{body}");
        // The voice note: a player that loads nothing until asked, 0:02 long.
        let players = attributes(body, "audio", "src");
        assert_eq!(players.len(), 1, "{body}");
        assert!(body.contains("<audio controls preload=\"none\""), "{body}");
        assert!(
            body.contains("<span class=\"duration\">0:02</span>"),
            "{body}"
        );
        // The document: a download link with its name and size.
        assert!(body.contains("📎 notes.bin</a>"), "{body}");
        assert!(body.contains("300.0 KB"), "{body}");

        // Every link works without the console's cookie or a token.
        // (The thumbnail, a JPEG, once the worker made it; the PNG before.)
        let (status, kind, _) = fetch_plain(&images[0]).await;
        assert_eq!(status, 200);
        assert!(kind == "image/jpeg" || kind == "image/png", "{kind}");
        let (status, _, bytes) = fetch_plain(&players[0]).await;
        assert_eq!(status, 200);
        assert_eq!(bytes, voice);
    }
}

#[tokio::test]
async fn the_dashboard_shows_the_storage_used_against_the_quota() {
    // Arrange
    let world = World::new().await;
    world
        .settings(json!({ "media": { "storageQuotaBytes": 2 * 1024 * 1024 } }))
        .await;
    let browser = Browser::admin(&world.app, &world.tenant).await;
    let before = browser.get("/console").await;

    // Act: 300 KiB stored (a document has no thumbnails).
    upload(&world, &world.user, "notes.bin", random_bytes(300 * 1024)).await;
    let after = browser.get("/console").await;

    // Assert
    before.assert_status(200);
    assert!(
        before
            .body
            .contains("<span class=\"n\">0 B</span> storage used"),
        "{}",
        before.body
    );
    assert!(before.body.contains("0% of 2.0 MB"), "{}", before.body);
    after.assert_status(200);
    assert!(
        after
            .body
            .contains("<span class=\"n\">300.0 KB</span> storage used"),
        "{}",
        after.body
    );
    assert!(after.body.contains("14% of 2.0 MB"), "{}", after.body);
}
