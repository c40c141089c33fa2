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

#[tokio::test]
async fn seeded_pairs_can_talk_in_their_conversation_with_the_printed_tokens() {
    let app = TestApp::spawn().await;
    let config = &app.state.config;

    let output = seed(
        config.database_url.expose(),
        config.jwt_secret.expose(),
        &[],
    );

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
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
