//! Device sessions: listing, ending one, ending all.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_participant_sees_their_devices_and_ends_one() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let phone = app.login_admin(&tenant).await;
    let laptop = app.login_admin(&tenant).await;

    let res = app.get("/api/auth/sessions", &phone.access).await;
    let sessions = res.data().as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions
            .iter()
            .filter(|s| s["current"] == json!(true))
            .count(),
        1
    );
    assert!(
        sessions
            .iter()
            .all(|s| s["ip"] == json!("127.0.0.1") && s["lastSeen"].is_string())
    );
    let other = sessions
        .iter()
        .find(|s| s["current"] == json!(false))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.call(
        Method::DELETE,
        &format!("/api/auth/sessions/{other}"),
        Some(&phone.access),
        None,
    )
    .await
    .data();

    app.get("/api/auth/me", &laptop.access)
        .await
        .assert_error(401, "session_revoked");
    assert_eq!(
        app.get("/api/auth/sessions", &phone.access)
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.call(
        Method::DELETE,
        &format!("/api/auth/sessions/{other}"),
        Some(&phone.access),
        None,
    )
    .await
    .assert_error(404, "not_found");
}

#[tokio::test]
async fn nobody_ends_someone_elses_session() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let mine = app.login_admin(&acme).await;
    let theirs = app.login_admin(&other).await;
    let their_session = app.get("/api/auth/sessions", &theirs.access).await.data()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.call(
        Method::DELETE,
        &format!("/api/auth/sessions/{their_session}"),
        Some(&mine.access),
        None,
    )
    .await
    .assert_error(404, "not_found");
    app.get("/api/auth/me", &theirs.access).await.data();
}

#[tokio::test]
async fn logout_all_ends_every_session() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let a = app.login_admin(&tenant).await;
    let b = app.login_admin(&tenant).await;

    let res = app
        .call(Method::POST, "/api/auth/logout-all", Some(&a.access), None)
        .await;
    assert_eq!(res.data()["ended"], json!(2));

    for login in [&a, &b] {
        app.get("/api/auth/me", &login.access)
            .await
            .assert_error(401, "session_revoked");
    }
}

#[tokio::test]
async fn the_superadmins_logout_all_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let root = app.superadmin().await;
    app.get("/api/platform/me", &root.access).await.data(); // cached as live
    app.call(
        Method::POST,
        "/api/auth/logout-all",
        Some(&root.access),
        None,
    )
    .await
    .data();
    app.get("/api/platform/me", &root.access)
        .await
        .assert_error(401, "session_revoked");
}
