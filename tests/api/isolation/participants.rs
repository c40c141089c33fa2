//! Tenancy: an object of another tenant is a 404, exactly like a missing one,
//! on every participant endpoint.

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn another_tenants_participant_is_a_404_on_every_participant_endpoint() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let admin = app.login_admin(&acme).await;
    let acme_user = app
        .participant_login(&acme, ParticipantType::User, "Uma")
        .await;
    let (foreign_astro, _) = app
        .participant(&other, ParticipantType::Astrologer, "Foreign")
        .await;
    let ghost = uuid::Uuid::now_v7();

    let calls: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::GET,
            "/api/participants/{id}".to_owned(),
            None,
            &admin.access,
        ),
        (
            Method::PATCH,
            "/api/participants/{id}".to_owned(),
            Some(json!({ "name": "X" })),
            &admin.access,
        ),
        (
            Method::POST,
            "/api/participants/{id}/block".to_owned(),
            Some(json!({})),
            &admin.access,
        ),
        (
            Method::POST,
            "/api/participants/{id}/unblock".to_owned(),
            Some(json!({})),
            &admin.access,
        ),
        (
            Method::GET,
            "/api/users/profile/{id}".to_owned(),
            None,
            &admin.access,
        ),
        (
            Method::GET,
            "/api/users/profile/{id}".to_owned(),
            None,
            &acme_user.access,
        ),
        // Backend1's direct path.
        (
            Method::GET,
            "/users/profile/{id}".to_owned(),
            None,
            &acme_user.access,
        ),
    ];
    for (method, template, body, token) in calls {
        for id in [foreign_astro, ghost] {
            let path = template.replace("{id}", &id.to_string());
            let res = app
                .call(method.clone(), &path, Some(token), body.clone())
                .await;
            res.assert_error(404, "not_found");
        }
        // Both answers are identical: existence does not leak.
        let a = app
            .call(
                method.clone(),
                &template.replace("{id}", &foreign_astro.to_string()),
                Some(token),
                body.clone(),
            )
            .await;
        let b = app
            .call(
                method.clone(),
                &template.replace("{id}", &ghost.to_string()),
                Some(token),
                body.clone(),
            )
            .await;
        assert_eq!(a.body, b.body, "{template}");
    }

    let res = app
        .get(
            &format!("/api/users/by-ids?ids={foreign_astro}"),
            &admin.access,
        )
        .await;
    assert_eq!(res.data(), &json!([]));
    let res = app.get("/api/participants?q=Foreign", &admin.access).await;
    assert_eq!(res.data()["items"], json!([]));
    for path in [
        "/api/users?q=Foreign",
        "/users?q=Foreign",
        "/users/search?q=Foreign",
    ] {
        let res = app.get(path, &acme_user.access).await;
        assert_eq!(res.data()["items"], json!([]), "{path}");
    }
    let res = app
        .get(
            &format!("/users/by-ids?ids={foreign_astro}"),
            &acme_user.access,
        )
        .await;
    assert_eq!(res.data(), &json!([]));

    // The foreign participant was not touched by any of it.
    let other_admin = app.login_admin(&other).await;
    let res = app
        .get(
            &format!("/api/participants/{foreign_astro}"),
            &other_admin.access,
        )
        .await;
    assert_eq!(res.data()["name"], json!("Foreign"));
    assert_eq!(res.data()["blocked"], json!(false));
}

#[tokio::test]
async fn a_token_cannot_be_pointed_at_another_tenant() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let admin = app.login_admin(&acme).await;
    // Re-sign the admin's claims with the other tenant's id: the session says acme.
    use base64::Engine;
    let payload = admin.access.split('.').nth(1).unwrap();
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["tid"] = json!(other.id);
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(app.state.config.jwt_secret.expose().as_bytes()),
    )
    .unwrap();
    app.get("/api/participants", &forged)
        .await
        .assert_error(401, "invalid_token");
}
