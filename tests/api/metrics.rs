//! `GET /metrics`: off without `SAMVAD_METRICS_TOKEN`, for its bearer only
//! with it, in Prometheus' text format, with bounded labels (route
//! templates, never an id).

use reqwest::Method;
use samvad::config::Secret;
use serde_json::json;

use crate::{helpers::TestApp, world::World};

const TOKEN: &str = "metrics-token-for-tests";

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.raw(Method::GET, "/metrics");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET /metrics");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The value of the first sample of `series` (name and labels as rendered).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_off_without_a_token() {
    let app = TestApp::spawn().await;
    let (status, body) = scrape(&app, Some(TOKEN)).await;
    assert_eq!(status, 404, "{body}");
    let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["success"], json!(false));
    assert_eq!(envelope["error"]["code"], json!("not_found"));
}

#[tokio::test]
async fn metrics_need_the_token_and_name_routes_not_ids() {
    let app = TestApp::spawn_with(|c| c.metrics_token = Some(Secret::new(TOKEN))).await;
    for wrong in [None, Some("metrics-token-for-test"), Some("")] {
        let (status, body) = scrape(&app, wrong).await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        assert!(body.contains("\"success\":false"), "{body}");
    }

    let world = World::in_app(app, "acme").await;
    let conversation = world.open(&world.user, &world.astro).await;
    let (_, before) = scrape(&world.app, Some(TOKEN)).await;
    world
        .app
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&world.user.access),
            json!({ "content": "counted" }),
        )
        .await
        .data();
    world
        .app
        .get(
            &format!("/api/conversations/{conversation}"),
            &world.user.access,
        )
        .await
        .data();

    let (status, text) = scrape(&world.app, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    let committed = "samvad_messages_committed_total";
    assert!(
        sample(&text, committed) >= sample(&before, committed) + 1.0,
        "{text}"
    );
    for series in [
        "samvad_build_info{",
        "samvad_http_request_duration_seconds_bucket{",
        "samvad_db_pool_connections{state=\"idle\"}",
        "samvad_socket_connections{transport=\"websocket\"}",
        "samvad_push_queue{kind=\"pushes\"}",
        "samvad_calls{status=\"ringing\"}",
        "samvad_worker_errors_total{worker=\"webhooks\"} ",
        "samvad_fanout_queue ",
        "samvad_send_queue ",
        "samvad_db_pool_waiting ",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    // The conversation's route by its template, with its status.
    assert!(
        text.lines()
            .any(|l| l.starts_with("samvad_http_requests_total{")
                && l.contains("/api/conversations/")
                && l.contains("method=\"GET\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    // The Grafana dashboard (docs/) reads series that exist.
    let dashboard = include_str!("../../docs/grafana-dashboard.json");
    for name in dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("samvad_"))
    {
        let name = name.trim_end_matches("_bucket");
        assert!(
            text.contains(&format!("{name}{{")) || text.contains(&format!("{name} ")),
            "the dashboard reads {name}, which is not exported"
        );
    }
    // No tenant, participant or conversation id anywhere.
    for id in [
        conversation.clone(),
        world.user.id.to_string(),
        world.tenant.id.to_string(),
    ] {
        assert!(!text.contains(&id), "{id} leaked into the metrics");
    }
}

#[tokio::test]
async fn the_server_times_every_sql_statement_without_logging_it() {
    // The statement timer is part of the process's logging set-up, so
    // this runs the real binary.
    let db = crate::helpers::TestDb::create().await;
    let data = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_samvad"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SAMVAD_BIND", "127.0.0.1:0")
        .env("SAMVAD_DATA_DIR", data.path())
        .env("SAMVAD_METRICS_TOKEN", TOKEN)
        .env_remove("SAMVAD_ENV")
        .env_remove("SAMVAD_JWT_SECRET")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (base, mut log) = crate::helpers::listening(&mut child).await;
    let client = reqwest::Client::new();
    let ready = client.get(format!("{base}/health")).send().await.unwrap();
    assert!(ready.status().is_success());
    let text = client
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("samvad_db_query_seconds_bucket{statement=\"select\""),
        "{text}"
    );
    child.kill().await.unwrap();
    // And none of the statements reached the log.
    while let Ok(Some(line)) = log.next_line().await {
        assert!(
            !line.contains("sqlx::query") && !line.contains("SELECT"),
            "{line}"
        );
    }
}
