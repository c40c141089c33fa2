//! The console of one node of several: its live view shows messages sent
//! through another node, and its dashboard counts who is online anywhere.

use std::time::Duration;

use serde_json::json;

use super::Browser;
use crate::cluster::shared_world;

#[tokio::test]
async fn the_live_view_on_one_node_shows_messages_sent_through_another() {
    let (world, other) = shared_world().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let browser = Browser::admin(&other, &world.tenant).await;
    let mut events = browser
        .stream(&format!("/console/conversations/{conversation}/events"))
        .await;

    // Sent through the first node: the second node's bus never sees it.
    world
        .app
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&world.user.access),
            json!({ "content": "sent through node A" }),
        )
        .await
        .data();
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains("sent through node A") {
            let chunk = events.chunk().await.unwrap().expect("the stream ended");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("not in node B's live view within 5 s; it sent: {seen}"));
    assert!(seen.contains(r#"data-seq="1""#), "{seen}");
    other.stop().await;
}

#[tokio::test]
async fn the_dashboard_of_one_node_counts_who_is_online_on_another() {
    let (world, other) = shared_world().await;
    let astro = other
        .state
        .auth
        .authenticate(&world.astro.access, None)
        .await
        .unwrap();
    other.core.connection_opened(&astro).await.unwrap();
    let browser = Browser::admin(&world.app, &world.tenant).await;
    let page = browser.get("/console").await;
    page.assert_status(200);
    assert!(
        page.body.contains(r#"<span class="n">1</span> online now"#),
        "{}",
        page.body
    );
    other.stop().await;
}
