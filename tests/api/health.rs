//! Liveness, readiness, and the HTTP contract every response keeps: request
//! ids, security headers, envelope errors, CORS, body limits, shutdown.

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, assert_envelope};

#[tokio::test]
async fn ping_and_health_answer_with_the_envelope() {
    let app = TestApp::spawn().await;
    let ping = app.call(Method::GET, "/ping", None, None).await;
    assert_eq!(ping.data(), &json!("pong"));
    let health = app.call(Method::GET, "/health", None, None).await;
    let data = health.data();
    assert_eq!(data["status"], json!("ok"));
    assert_eq!(data["database"], json!("ok"));
    assert_eq!(data["version"], json!(env!("CARGO_PKG_VERSION")));
    assert!(data["uptimeSeconds"].is_u64());
}

#[tokio::test]
async fn health_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.pool.close().await;
    let res = app.call(Method::GET, "/health", None, None).await;
    res.assert_error(503, "unavailable");
}

#[tokio::test]
async fn every_response_has_a_request_id_and_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/ping", "/no/such/route", "/api/auth/me"] {
        let res = app.call(Method::GET, path, None, None).await;
        let id = res.headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "{path}");
        assert_eq!(res.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(res.headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(res.headers["referrer-policy"], "no-referrer", "{path}");
    }
    let res = app
        .send(
            app.raw(Method::GET, "/ping")
                .header("x-request-id", "trace-42"),
        )
        .await;
    assert_eq!(res.headers["x-request-id"], "trace-42");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_envelope_errors() {
    let app = TestApp::spawn().await;
    app.call(Method::GET, "/api/nope", None, None)
        .await
        .assert_error(404, "not_found");
    app.call(Method::GET, "/nope", None, None)
        .await
        .assert_error(404, "not_found");
    let res = app
        .call(Method::PUT, "/api/auth/login", None, Some(json!({})))
        .await;
    res.assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::spawn_with(|c| {
        c.cors_origins = samvad::config::CorsOrigins::List(vec!["https://app.example".into()]);
    })
    .await;
    let preflight = |origin: &'static str| {
        app.raw(Method::OPTIONS, "/api/auth/login")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
    };

    let allowed = app.send(preflight("https://app.example")).await;
    assert!(allowed.status.is_success(), "{:?}", allowed);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example"
    );

    let refused = app.send(preflight("https://evil.example")).await;
    assert_eq!(refused.status.as_u16(), 403);
    assert_envelope(&refused.body);
    assert!(refused.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cross_origin_errors_are_envelopes_a_browser_may_read() {
    let app = TestApp::spawn_with(|c| {
        c.cors_origins = samvad::config::CorsOrigins::List(vec!["https://app.example".into()]);
    })
    .await;
    let from_app = |method: Method, path: &str| {
        app.raw(method, path)
            .header("origin", "https://app.example")
    };

    let cases = [
        (from_app(Method::GET, "/api/auth/me"), 401, "unauthorized"),
        (from_app(Method::GET, "/api/nope"), 404, "not_found"),
        (
            from_app(Method::POST, "/api/auth/login")
                .header("content-type", "application/json")
                .body("{bad"),
            400,
            "bad_request",
        ),
    ];
    for (request, status, code) in cases {
        let res = app.send(request).await;
        res.assert_error(status, code);
        assert_eq!(
            res.headers["access-control-allow-origin"],
            "https://app.example"
        );
    }
}

#[tokio::test]
async fn trailing_slashes_reach_the_same_endpoint() {
    let app = TestApp::spawn().await;
    let ping = app.call(Method::GET, "/ping/", None, None).await;
    assert_eq!(ping.data(), &json!("pong"));
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let users = app.get("/api/users/?limit=1", &admin.access).await;
    assert_eq!(users.data()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_whether_declared_or_chunked() {
    let app = TestApp::spawn_with(|c| c.body_limit = 1024).await;
    let big = format!("{{\"tenant\":\"{}\"}}", "x".repeat(2000));

    let declared = app
        .send(
            app.raw(Method::POST, "/api/auth/login")
                .header("content-type", "application/json")
                .body(big.clone()),
        )
        .await;
    declared.assert_error(413, "payload_too_large");

    // A chunked body has no Content-Length: it is cut off while reading.
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_then_refuses_new_ones() {
    let app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let body = r#"{"tenant":"none","email":"a@b.test","password":"whatever1"}"#;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    // Send all but the last byte: the request is in flight on the server.
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&body.as_bytes()[..body.len() - 1])
        .await
        .unwrap();
    let ping = app.call(Method::GET, "/ping", None, None).await; // the server is serving
    assert!(ping.status.is_success());

    let stopping = tokio::spawn(app.stop());
    stream
        .write_all(&body.as_bytes()[body.len() - 1..])
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    stopping.await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "still accepting after shutdown"
    );
}
