//! Several nodes on one database (issue 16): what must hold whichever node
//! a request lands on. The Socket.IO side (rooms through Redis) is in the
//! e2e suite (`tests/e2e/cluster/`).

use futures::future::join_all;
use serde_json::json;

use crate::world::World;

#[tokio::test]
async fn two_nodes_sending_into_one_conversation_keep_its_seqs_gap_free_and_lose_nothing() {
    let world = World::new().await;
    let other = world.app.another_node().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let path = format!("/api/conversations/{conversation}/messages");

    let sends = (0..60).map(|i| {
        let (node, who) = match i % 3 {
            0 => (&world.app, &world.user),
            1 => (&other, &world.astro),
            _ => (&other, &world.user),
        };
        let body = json!({ "content": format!("m{i}"), "clientMsgId": format!("c{i}") });
        let path = path.clone();
        async move { node.post(&path, Some(&who.access), body).await }
    });
    let answers = join_all(sends).await;
    let mut seqs: Vec<u64> = answers
        .iter()
        .map(|a| a.data()["seq"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());

    // A retry on the other node returns the first message, not a new one.
    let again = world
        .app
        .post(
            &path,
            Some(&world.astro.access),
            json!({ "content": "m1", "clientMsgId": "c1" }),
        )
        .await;
    assert_eq!(again.data()["id"], answers[1].data()["id"]);
    let history = other
        .get(&format!("{path}?after=0&limit=100"), &world.user.access)
        .await;
    assert_eq!(history.data()["items"].as_array().unwrap().len(), 60);
    other.stop().await;
}
