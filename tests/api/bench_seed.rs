//! `samvad bench seed`: pairs in conversations with working tokens, and
//! refused in production.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::helpers::TestApp;

const BIN: &str = env!("CARGO_BIN_EXE_samvad");

fn seed(database_url: &str, secret: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args([
            "bench", "seed", "--tenant", "loadtest", "--pairs", "3", "--json",
        ])
        .env("DATABASE_URL", database_url)
        .env("SAMVAD_JWT_SECRET", secret)
        .env_remove("SAMVAD_ENV");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run samvad")
}

/// What a `samvad bench ...` command printed, once it succeeded.
pub(crate) fn answer(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[tokio::test]
async fn seeded_pairs_can_talk_in_their_conversation_with_the_printed_tokens() {
    let app = TestApp::spawn().await;
    let config = &app.state.config;

    let output = seed(
        config.database_url.expose(),
        config.jwt_secret.expose(),
        &[],
    );

    let body = answer(&output);
    let pairs = body["data"]["pairs"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 3);
    for pair in pairs {
        let conversation = pair["conversationId"].as_str().unwrap();
        let path = format!("/api/conversations/{conversation}/messages");
        for (who, n) in [("user", 1), ("astrologer", 2)] {
            let token = pair[who]["token"].as_str().unwrap();
            let sent = app
                .post(
                    &path,
                    Some(token),
                    json!({ "content": format!("hello from the {who}") }),
                )
                .await;
            assert!(sent.status.is_success(), "{who}: {:?}", sent.body);
            assert_eq!(sent.body["data"]["seq"], json!(n));
        }
    }
}

#[tokio::test]
async fn bench_seed_is_refused_in_production() {
    let app = TestApp::spawn().await;
    let config = &app.state.config;

    let output = seed(
        config.database_url.expose(),
        config.jwt_secret.expose(),
        &[
            ("SAMVAD_ENV", "production"),
            ("SAMVAD_CORS_ORIGINS", "https://app.example.com"),
            ("SAMVAD_DATA_KEY", &"ab".repeat(32)),
        ],
    );

    assert!(!output.status.success());
    let body: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(body["error"]["code"], json!("forbidden"));
}

#[tokio::test]
async fn without_a_jwt_secret_a_server_on_the_same_data_dir_accepts_the_seeded_tokens() {
    // Arrange: a server whose configuration is read as `serve` reads it in
    // development without SAMVAD_JWT_SECRET, from a fresh data directory.
    let dir = std::env::temp_dir().join(format!(
        "samvad-dev-secret-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let dir_text = dir.to_string_lossy().into_owned();
    let dev = samvad::config::Config::from_lookup(|key| {
        (key == "SAMVAD_DATA_DIR").then(|| dir_text.clone())
    })
    .expect("a development configuration");
    let app = TestApp::spawn_with(|config| config.jwt_secret = dev.jwt_secret.clone()).await;

    // Act: the CLI seeds with no secret and the same data directory.
    let output = Command::new(BIN)
        .args([
            "bench", "seed", "--tenant", "loadtest", "--pairs", "1", "--json",
        ])
        .env("DATABASE_URL", app.state.config.database_url.expose())
        .env("SAMVAD_DATA_DIR", &dir)
        .env_remove("SAMVAD_JWT_SECRET")
        .env_remove("SAMVAD_ENV")
        .output()
        .expect("run samvad");

    // Assert: the printed token works on the running server.
    let body = answer(&output);
    let token = body["data"]["pairs"][0]["user"]["token"].as_str().unwrap();
    let me = app.get("/api/auth/me", token).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    let _ = std::fs::remove_dir_all(&dir);
}
