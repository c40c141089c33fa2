//! `samvad bench core`: the core driven in process, its sends verified
//! against MySQL afterwards, also when the pairs are spread over tenants.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::{bench_seed::answer, helpers::TestApp};

/// `samvad bench core ARGS --json` on the app's database.
fn bench_core(app: &TestApp, args: &[&str]) -> Output {
    let config = &app.state.config;
    Command::new(env!("CARGO_BIN_EXE_samvad"))
        .args(["bench", "core"])
        .args(args)
        .arg("--json")
        .env("DATABASE_URL", config.database_url.expose())
        .env("SAMVAD_JWT_SECRET", config.jwt_secret.expose())
        .env_remove("SAMVAD_ENV")
        .output()
        .expect("run samvad")
}

#[tokio::test]
async fn a_run_over_three_tenants_stores_what_it_acknowledged_in_each() {
    let app = TestApp::spawn().await;

    let output = bench_core(
        &app,
        &[
            "--tenant",
            "spread",
            "--tenants",
            "3",
            "--pairs",
            "7",
            "--concurrency",
            "7",
            "--seconds",
            "1",
            "--warmup-seconds",
            "0",
        ],
    );

    let body = answer(&output);
    let data = &body["data"];
    assert_eq!(data["tenants"], json!(3));
    let verification = &data["verification"];
    assert_eq!(verification["ok"], json!(true), "{verification}");
    assert_eq!(verification["conversations"], json!(7));
    let acknowledged = verification["acknowledged"].as_u64().unwrap();
    assert!(acknowledged > 0);
    assert_eq!(verification["newMessages"], json!(acknowledged));
    // MariaDB's counters over the window: the batches were committed there,
    // each in a few statements.
    let database = &data["database"];
    let commits = database["commits"].as_u64().unwrap();
    assert!(commits > 0, "{database}");
    assert!(
        database["statements"].as_u64().unwrap() > commits,
        "{database}"
    );
    assert!(
        database["sendsPerCommit"].as_f64().unwrap() > 0.0,
        "{database}"
    );

    // Every tenant got its share of the pairs (3, 2, 2), and sent in them.
    let per_tenant: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT t.slug, COUNT(DISTINCT m.conversation_id), COUNT(*) FROM messages m
         JOIN tenants t ON t.id = m.tenant_id
         WHERE t.slug LIKE 'spread-%' GROUP BY t.slug ORDER BY t.slug",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let shares: Vec<(&str, i64)> = per_tenant
        .iter()
        .map(|(slug, conversations, _)| (slug.as_str(), *conversations))
        .collect();
    assert_eq!(shares, [("spread-1", 3), ("spread-2", 2), ("spread-3", 2)]);
    let stored: i64 = per_tenant.iter().map(|(_, _, n)| n).sum();
    assert_eq!(json!(stored), verification["messages"]);
}

#[tokio::test]
async fn more_tenants_than_pairs_is_refused() {
    let app = TestApp::spawn().await;

    let output = bench_core(&app, &["--tenants", "3", "--pairs", "2"]);

    assert!(!output.status.success());
    let body: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(body["error"]["code"], json!("validation_failed"));
}
