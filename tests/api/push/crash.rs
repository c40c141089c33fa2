//! A server killed (`kill -9`) after a message commits and before its push
//! goes out sends that push once it is back, and a restart never sends a
//! push twice: the real binary, the demo tenant, the fake FCM.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::WAIT;
use crate::helpers::{
    TestDb, listening,
    push::{FakeFcm, keys},
};

const BIN: &str = env!("CARGO_BIN_EXE_samvad");

/// `samvad serve` on a free port; returns it and its base URL.
async fn serve(db: &TestDb, data: &std::path::Path, fcm: &FakeFcm) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SAMVAD_BIND", "127.0.0.1:0")
        .env("SAMVAD_DATA_DIR", data)
        .env("SAMVAD_FCM_URL", fcm.base())
        // Long enough that the kill surely comes first.
        .env("SAMVAD_PUSH_GRACE_MS", "2000")
        .env_remove("SAMVAD_ENV")
        .env_remove("SAMVAD_JWT_SECRET")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (base, mut stderr) = listening(&mut child).await;
    // Keep reading its log so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, base)
}

async fn kill_9(child: &mut Child) {
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().await.unwrap();
}

async fn call(
    base: &str,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["success"], true, "{path}: {answer}");
    answer["data"].clone()
}

/// Logs in to the demo tenant; returns the access token and the id.
async fn login(base: &str, email: &str) -> (String, String) {
    let body = json!({ "tenant": "demo", "email": email, "password": samvad::demo::PASSWORD });
    let data = call(base, None, reqwest::Method::POST, "/api/auth/login", body).await;
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    (text(&data["accessToken"]), text(&data["user"]["id"]))
}

/// Sends `text` from the admin to the astrologer; returns once acknowledged.
async fn send(base: &str, admin: &str, astrologer_id: &str, text: &str) {
    let open = json!({ "participantId": astrologer_id });
    let conversation = call(
        base,
        Some(admin),
        reqwest::Method::POST,
        "/api/conversations",
        open,
    )
    .await;
    let path = format!(
        "/api/conversations/{}/messages",
        conversation["id"].as_str().unwrap()
    );
    call(
        base,
        Some(admin),
        reqwest::Method::POST,
        &path,
        json!({ "content": text }),
    )
    .await;
}

#[tokio::test]
async fn a_push_survives_kill_9_between_commit_and_send_and_is_never_sent_twice() {
    let db = TestDb::create().await;
    let data = tempfile::tempdir().unwrap();
    let fcm = FakeFcm::start().await;
    let (mut server, base) = serve(&db, data.path(), &fcm).await;
    let (admin, _) = login(&base, "admin@demo.test").await;
    let (astrologer, astrologer_id) = login(&base, "astrologer@demo.test").await;
    let service_account = keys().service_account_json(&fcm.token_uri());
    let put = reqwest::Method::PUT;
    call(
        &base,
        Some(&admin),
        put,
        "/api/settings/push/fcm",
        json!({ "serviceAccount": service_account }),
    )
    .await;
    call(
        &base,
        Some(&astrologer),
        reqwest::Method::POST,
        "/api/devices",
        json!({ "platform": "fcm", "token": "astro-phone" }),
    )
    .await;

    send(&base, &admin, &astrologer_id, "are you free at six?").await;
    kill_9(&mut server).await;
    assert_eq!(fcm.count(), 0, "the kill came after the push");

    let (mut server, _) = serve(&db, data.path(), &fcm).await;
    let push = fcm.next_message(WAIT).await;
    assert_eq!(push.token, "astro-phone");
    assert_eq!(push.message["notification"]["body"], "are you free at six?");

    // Killed again, once the delivery is marked sent, and back: the push is
    // not sent again. A new message's push, sent after everything before
    // it, proves the worker has looked.
    let db_pool = sqlx::MySqlPool::connect(&db.url).await.unwrap();
    for _ in 0..400 {
        let sent: Option<String> = sqlx::query_scalar("SELECT state FROM push_deliveries")
            .fetch_optional(&db_pool)
            .await
            .unwrap();
        if sent.as_deref() == Some("sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    db_pool.close().await;
    kill_9(&mut server).await;
    let (mut server, base) = serve(&db, data.path(), &fcm).await;
    let (admin, _) = login(&base, "admin@demo.test").await;
    send(&base, &admin, &astrologer_id, "or at seven?").await;
    let next = fcm.next_message(WAIT).await;
    assert_eq!(next.message["notification"]["body"], "or at seven?");
    assert_eq!(fcm.count(), 2, "{:?}", fcm.messages());
    kill_9(&mut server).await;
}
