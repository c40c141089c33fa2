//! Group commit: sends that arrive together are checked and written in one
//! transaction, and batching changes none of what a send promises. Each
//! test makes a batch on purpose: a first send waits at a conversation's
//! row, locked by the test, while the next ones queue behind it; releasing
//! the row lets the queued sends go as one batch.

use std::time::Duration;

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::json;
use sqlx::Connection;

use super::{hold_the_row, seqs, wait_for_queued_sends, wait_for_the_writer_at_the_row};
use crate::{
    helpers::{Res, TestApp},
    world::World,
};

/// The astrologer sends "ahead", which waits at the conversation's row
/// (held here); then `sends` queue behind it and go as one batch once the
/// row is released. Returns the first send's answer and theirs.
pub(super) async fn in_one_batch(
    w: &World,
    conversation: &str,
    sends: Vec<impl std::future::Future<Output = Res>>,
) -> (Res, Vec<Res>) {
    let path = format!("/api/conversations/{conversation}/messages");
    let holder = hold_the_row(&w.app, conversation).await;
    let first = w
        .app
        .post(&path, Some(&w.astro.access), json!({ "content": "ahead" }));
    let count = sends.len();
    let batch = async {
        wait_for_the_writer_at_the_row(&w.app).await;
        let release = async {
            wait_for_queued_sends(&w.app, count).await;
            holder.rollback().await.unwrap();
        };
        tokio::join!(futures::future::join_all(sends), release).0
    };
    tokio::join!(first, batch)
}

#[tokio::test]
async fn a_client_msg_id_repeated_within_one_batch_is_stored_once() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let sends = vec![
        (
            &w.user,
            json!({ "content": "twice", "clientMsgId": "phone:7" }),
        ),
        (
            &w.user,
            json!({ "content": "twice (retry)", "clientMsgId": "phone:7" }),
        ),
        (&w.astro, json!({ "content": "other" })),
    ];
    let sends = sends
        .into_iter()
        .map(|(who, body)| w.app.post(&path, Some(&who.access), body))
        .collect();
    let (first, answers) = in_one_batch(&w, &id, sends).await;

    assert_eq!(first.data()["seq"], json!(1));
    let (a, b) = (answers[0].data(), answers[1].data());
    assert_eq!(a["id"], b["id"], "the retry gets the first message");
    assert_eq!(a["seq"], b["seq"]);
    let stored = w.history(&w.user, &id).await;
    assert_eq!(seqs(&stored), vec![1, 2, 3], "stored once, no gap");
    let twice = stored
        .iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("twice"))
        })
        .count();
    assert_eq!(twice, 1);
}

/// A batch larger than one insert statement takes (64 rows), with lists
/// padded to their next length: every send stored once, without gaps.
#[tokio::test]
async fn a_batch_of_150_sends_is_stored_whole() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let sends = (0..150)
        .map(|i| {
            // Both sides, a third with client ids, the user's "c:0" twice.
            let who = if i % 2 == 0 { &w.user } else { &w.astro };
            let client = match i {
                148 => Some("c:0".to_owned()),
                i if i % 3 == 0 => Some(format!("c:{i}")),
                _ => None,
            };
            let body = json!({ "content": format!("n{i}"), "clientMsgId": client });
            w.app.post(&path, Some(&who.access), body)
        })
        .collect();
    let (first, answers) = in_one_batch(&w, &id, sends).await;

    assert_eq!(first.data()["seq"], json!(1));
    let answered: std::collections::BTreeSet<u64> = answers
        .iter()
        .map(|a| a.data()["seq"].as_u64().unwrap())
        .collect();
    let mut stored = w.history(&w.user, &id).await;
    let rest = format!("{path}?after=100&limit=100");
    let rest = w.app.get(&rest, &w.user.access).await;
    stored.extend(rest.data()["items"].as_array().unwrap().iter().cloned());
    assert_eq!(stored.len(), 150, "the repeated client id is stored once");
    assert_eq!(seqs(&stored), (1..=150).collect::<Vec<_>>(), "no gap");
    assert_eq!(
        answered,
        (2..=150).collect(),
        "each send answered with its message"
    );
    assert_eq!(answers[0].data()["id"], answers[148].data()["id"]);
    let batches: std::collections::BTreeSet<&str> = stored[1..]
        .iter()
        .map(|m| m["createdAt"].as_str().unwrap())
        .collect();
    assert_eq!(
        batches.len(),
        1,
        "one batch (its messages share their time)"
    );
    assert_eq!(w.conversation(&w.user, &id).await["lastSeq"], json!(150));
}

#[tokio::test]
async fn a_statement_failing_in_a_batch_refuses_only_its_own_send() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    // A trigger makes the insert of one particular message fail.
    sqlx::raw_sql(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages FOR EACH ROW \
         BEGIN IF NEW.content = 'boom' THEN \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom refused'; END IF; END",
    )
    .execute(&w.app.pool)
    .await
    .unwrap();
    let sends = ["fine 1", "boom", "fine 2"]
        .map(|text| {
            w.app
                .post(&path, Some(&w.user.access), json!({ "content": text }))
        })
        .into();
    let (first, answers) = in_one_batch(&w, &id, sends).await;

    first.data();
    answers[0].data();
    answers[1].assert_error(500, "internal");
    answers[2].data();
    let stored = w.history(&w.user, &id).await;
    let texts: Vec<&str> = stored
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(seqs(&stored), vec![1, 2, 3], "the failed send took no seq");
    assert!(!texts.contains(&"boom"), "{texts:?}");
    // Every stored message is in the log, once, in seq order.
    let log = w.app.core.log_after(0, 100).await.unwrap();
    let messages: Vec<_> = log
        .iter()
        .filter(|e| e.kind == samvad::domain::log::LogKind::MessageCreated)
        .collect();
    let logged: Vec<Option<u64>> = messages.iter().map(|e| e.seq).collect();
    assert_eq!(logged, vec![Some(1), Some(2), Some(3)]);
    // Positions without gaps (the cast's consultation came first).
    let positions: Vec<u64> = log.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=log.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_member_removed_or_blocked_is_refused_from_the_next_send() {
    let w = World::new().await;
    let group = w.group("Circle", &[&w.astro, &w.user]).await;
    let path = format!("/api/conversations/{group}/messages");
    w.send(&w.user, &group, "while a member").await;
    w.call(
        &w.admin,
        Method::DELETE,
        &format!("/api/conversations/{group}/members/{}", w.user.id),
        None,
    )
    .await
    .data();
    w.app
        .post(
            &path,
            Some(&w.user.access),
            json!({ "content": "after removal" }),
        )
        .await
        .assert_error(404, "not_found");

    let direct = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{direct}/messages");
    w.send(&w.user, &direct, "before the block").await;
    w.block(&w.astro, &w.user).await;
    w.app
        .post(
            &path,
            Some(&w.user.access),
            json!({ "content": "after the block" }),
        )
        .await
        .assert_error(403, "blocked");
    assert_eq!(w.history(&w.astro, &direct).await.len(), 1);
}

#[tokio::test]
async fn shutting_down_with_sends_in_flight_commits_and_acks_or_refuses_each() {
    let app = TestApp::spawn_with(|c| c.send_queue = 8).await;
    let w = World::in_app(app, "acme").await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}/messages");
    let mut check = sqlx::MySqlConnection::connect(&w.app.db_url())
        .await
        .unwrap();
    let holder = hold_the_row(&w.app, &id).await;
    let first = w
        .app
        .post(&path, Some(&w.astro.access), json!({ "content": "ahead" }));
    let rest = async {
        wait_for_the_writer_at_the_row(&w.app).await;
        let queued = futures::future::join_all((0..4).map(|n| {
            w.app.post(
                &path,
                Some(&w.user.access),
                json!({ "content": format!("queued {n}") }),
            )
        }));
        let shutdown = async {
            wait_for_queued_sends(&w.app, 4).await;
            // The core's part of a shutdown: refuse new sends, drain.
            let closing = w.app.core.close(Duration::from_secs(10));
            let meanwhile = async {
                while w.app.core.sends_in_progress() < 8 {
                    tokio::task::yield_now().await;
                }
                let late = w
                    .app
                    .post(&path, Some(&w.user.access), json!({ "content": "late" }))
                    .await;
                holder.rollback().await.unwrap();
                late
            };
            tokio::join!(closing, meanwhile).1
        };
        tokio::join!(queued, shutdown)
    };
    let (first, (queued, late)) = tokio::join!(first, rest);

    late.assert_error(503, "overloaded");
    let mut acked = vec![first.data()["id"].as_str().unwrap().to_owned()];
    for answer in &queued {
        acked.push(answer.data()["id"].as_str().unwrap().to_owned());
    }
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT CAST(content AS CHAR) FROM messages ORDER BY seq")
            .fetch_all(&mut check)
            .await
            .unwrap();
    assert_eq!(
        stored.len(),
        acked.len(),
        "every ack is a stored message: {stored:?}"
    );
    assert!(!stored.contains(&"late".to_owned()));
}

#[tokio::test]
async fn a_batch_that_mixes_tenants_keeps_each_send_in_its_own_tenant() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    // A second tenant whose conversation falls to the same writer as
    // acme's (the last byte of its id), so that both go in one batch.
    let globex = w.app.tenant("globex").await;
    let admin = w.app.login_admin(&globex).await;
    let astro = w
        .app
        .participant_login(&globex, ParticipantType::Astrologer, "Gita")
        .await;
    let writer = |id: &str| {
        u8::from_str_radix(&id[id.len() - 2..], 16).unwrap() as usize % w.app.state.config.writers
    };
    let mut other = None;
    for n in 0..32 {
        let user = w
            .app
            .participant_login(&globex, ParticipantType::User, &format!("Gus {n}"))
            .await;
        let body = json!({ "userId": user.id, "astrologerId": astro.id, "status": "active" });
        w.app
            .post("/api/consultations", Some(&admin.access), body)
            .await
            .data();
        let conversation = w.open(&user, &astro).await;
        if writer(&conversation) == writer(&id) {
            other = Some((user, conversation));
            break;
        }
    }
    let (gus, gid) = other.expect("a conversation on acme's writer");
    // The same client id in both tenants: two different messages. (Quotes,
    // a backslash and non-ASCII: a batch of several tenants carries client
    // ids in a JSON document.)
    let body = |text: &str| json!({ "content": text, "clientMsgId": "phone:1 \"é\" \\ 🙂" });
    let (ours, theirs) = (
        format!("/api/conversations/{id}/messages"),
        format!("/api/conversations/{gid}/messages"),
    );
    // And acme's user naming globex's conversation, in the same batch:
    // its rows are (acme, gid) beside (globex, gid).
    let trespass = json!({ "content": "trespass", "clientMsgId": "phone:2" });
    let sends = vec![
        w.app.post(&ours, Some(&w.user.access), body("acme")),
        w.app.post(&theirs, Some(&gus.access), body("globex")),
        w.app.post(&theirs, Some(&w.user.access), trespass),
    ];
    let (first, answers) = in_one_batch(&w, &id, sends).await;

    assert_eq!(first.data()["seq"], json!(1));
    assert_eq!(answers[2].status, 404, "{:?}", answers[2].body);
    let (acme, globex) = (answers[0].data(), answers[1].data());
    assert_eq!((&acme["seq"], &globex["seq"]), (&json!(2), &json!(1)));
    assert_ne!(acme["id"], globex["id"]);
    assert_eq!(acme["createdAt"], globex["createdAt"], "one batch");
    // Both sent again, in one batch again: each gets its first message back.
    let again = vec![
        w.app.post(&ours, Some(&w.user.access), body("acme")),
        w.app.post(&theirs, Some(&gus.access), body("globex")),
    ];
    let (_, retried) = in_one_batch(&w, &id, again).await;
    assert_eq!(retried[0].data()["id"], acme["id"]);
    assert_eq!(retried[1].data()["id"], globex["id"]);
    let history = w.history(&w.user, &id).await;
    assert_eq!(
        seqs(&history),
        vec![1, 2, 3],
        "the second batch's first send only"
    );
    assert_eq!(history[1]["content"], json!("acme"));
    let history = w.history(&gus, &gid).await;
    assert_eq!(seqs(&history), vec![1]);
    assert_eq!(history[0]["content"], json!("globex"));
    // Neither tenant sees the other's conversation.
    let path = format!("/api/conversations/{gid}/messages?after=0&limit=100");
    assert_eq!(w.app.get(&path, &w.user.access).await.status, 404);

    // A block in one tenant refuses its send, and only that one, in a
    // batch that mixes tenants.
    let block = json!({ "participantId": astro.id });
    w.app
        .post("/api/blocks", Some(&gus.access), block)
        .await
        .data();
    let sends = vec![
        w.app
            .post(&ours, Some(&w.user.access), json!({ "content": "still" })),
        w.app
            .post(&theirs, Some(&gus.access), json!({ "content": "blocked?" })),
    ];
    let (_, answers) = in_one_batch(&w, &id, sends).await;
    assert_eq!(answers[0].data()["content"], json!("still"));
    answers[1].assert_error(403, "blocked");
}
