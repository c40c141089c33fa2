//! The OpenAPI spec: committed, served, and complete.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestApp;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

#[test]
fn the_committed_spec_is_up_to_date() {
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    let generated = samvad::api::spec_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_server_serves_the_committed_spec_and_a_docs_ui() {
    let app = TestApp::spawn().await;
    let served = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert!(served.status.is_success());
    let committed: Value = serde_json::from_str(&samvad::api::spec_json()).unwrap();
    assert_eq!(served.body, committed);

    let docs = app.send(app.raw(Method::GET, "/api/docs")).await;
    assert!(docs.status.is_success());
    let html = reqwest::get(app.url("/api/docs"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("swagger"),
        "no docs UI: {}",
        &html[..html.len().min(200)]
    );
    // The UI shows the same spec: nullable optionals and the direct paths.
    assert!(html.contains(r#""nullable": true"#) && html.contains(r#""/users/online/count""#));
}

#[test]
fn every_operation_has_a_summary_a_tag_and_its_error_responses() {
    let spec: Value = serde_json::from_str(&samvad::api::spec_json()).unwrap();
    assert_eq!(
        spec["components"]["securitySchemes"]["BearerAuth"]["scheme"],
        "bearer"
    );
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let label = format!("{method} {path}");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{label}: no summary"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{label}: no tag"
            );
            for status in ["400", "401", "404", "422", "500"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{label}: no {status} response"
                );
            }
        }
    }
}
