//! Tenant admins manage participants.

use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn an_admin_creates_participants_of_every_type() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;

    for kind in ["user", "astrologer", "admin"] {
        let res = app
            .post(
                "/api/participants",
                Some(&admin.access),
                json!({ "type": kind, "name": format!("A {kind}"), "email": format!("new-{kind}@acme.test"), "password": PASSWORD }),
            )
            .await;
        let data = res.data();
        assert_eq!(data["type"], json!(kind));
        assert_eq!(data["tenantId"], json!(tenant.id));
        app.login(&tenant, &format!("new-{kind}@acme.test")).await;
    }
}

#[tokio::test]
async fn emails_and_phones_are_unique_within_a_tenant_only() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let admin = app.login_admin(&acme).await;
    let other_admin = app.login_admin(&other).await;
    let body =
        json!({ "type": "user", "name": "Uma", "email": "uma@x.test", "phone": "+14155552671" });

    app.post("/api/participants", Some(&admin.access), body.clone())
        .await
        .data();
    let dup_email = json!({ "type": "user", "name": "U2", "email": "UMA@x.test" });
    app.post("/api/participants", Some(&admin.access), dup_email)
        .await
        .assert_error(409, "email_taken");
    let dup_phone = json!({ "type": "user", "name": "U3", "phone": "+1 415 555 2671" });
    app.post("/api/participants", Some(&admin.access), dup_phone)
        .await
        .assert_error(409, "phone_taken");
    // Another tenant may have the same people.
    app.post("/api/participants", Some(&other_admin.access), body)
        .await
        .data();
}

#[tokio::test]
async fn invalid_participant_fields_are_422() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    for body in [
        json!({ "type": "wizard", "name": "W" }),
        json!({ "type": "user", "name": "  " }),
        json!({ "type": "user", "name": "U", "email": "not-an-email" }),
        json!({ "type": "user", "name": "U", "phone": "12" }),
        json!({ "type": "user", "name": "U", "password": "short" }),
    ] {
        app.post("/api/participants", Some(&admin.access), body)
            .await
            .assert_error(422, "validation_failed");
    }
}

#[tokio::test]
async fn participants_are_searched_filtered_and_paged_by_name() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    for (kind, name) in [
        (ParticipantType::Astrologer, "Bela"),
        (ParticipantType::Astrologer, "Anand"),
        (ParticipantType::User, "Chitra"),
        (ParticipantType::User, "Dev 100%"),
    ] {
        app.participant(&tenant, kind, name).await;
    }

    let mut names = vec![];
    let mut path = "/api/participants?limit=2".to_owned();
    loop {
        let res = app.get(&path, &admin.access).await;
        let page = res.data();
        assert!(page["items"].as_array().unwrap().len() <= 2);
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/participants?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(names, ["Admin", "Anand", "Bela", "Chitra", "Dev 100%"]);

    let astrologers = app
        .get("/api/participants?type=astrologer", &admin.access)
        .await;
    assert_eq!(astrologers.data()["items"].as_array().unwrap().len(), 2);
    let search = app.get("/api/participants?q=hit", &admin.access).await;
    assert_eq!(search.data()["items"][0]["name"], json!("Chitra"));
    let literal_percent = app.get("/api/participants?q=100%25", &admin.access).await;
    assert_eq!(literal_percent.data()["items"].as_array().unwrap().len(), 1);
    let by_email = app.get("/api/participants?q=bela%40", &admin.access).await;
    assert_eq!(by_email.data()["items"][0]["name"], json!("Bela"));
}

#[tokio::test]
async fn an_admin_updates_and_clears_profile_fields() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (id, _) = app
        .participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let path = format!("/api/participants/{id}");

    let res = app
        .patch(
            &path,
            &admin.access,
            json!({ "name": "Asha R", "avatar": "https://cdn.example/a.png", "status": "Available", "phone": "09812345678" }),
        )
        .await;
    let data = res.data();
    assert_eq!(data["name"], json!("Asha R"));
    assert_eq!(data["avatar"], json!("https://cdn.example/a.png"));
    assert_eq!(data["avatarUrl"], data["avatar"]);
    assert_eq!(data["status"], json!("Available"));
    assert_eq!(data["phone"], json!("+919812345678"));

    let res = app
        .patch(
            &path,
            &admin.access,
            json!({ "avatarUrl": null, "status": null }),
        )
        .await;
    let data = res.data();
    assert!(data["avatar"].is_null() && data["avatarUrl"].is_null() && data["status"].is_null());
    assert_eq!(
        data["name"],
        json!("Asha R"),
        "absent fields are left alone"
    );

    app.patch(&path, &admin.access, json!({ "name": null }))
        .await
        .assert_error(422, "validation_failed");
    app.patch(
        &path,
        &admin.access,
        json!({ "avatar": "javascript:alert(1)" }),
    )
    .await
    .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn an_admin_cannot_block_themself() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    app.post(
        &format!("/api/participants/{}/block", tenant.admin_id),
        Some(&admin.access),
        json!({}),
    )
    .await
    .assert_error(409, "cannot_block_self");
}

#[tokio::test]
async fn blocked_participants_can_be_listed() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let (id, _) = app.participant(&tenant, ParticipantType::User, "Uma").await;
    app.participant(&tenant, ParticipantType::User, "Vik").await;
    app.post(
        &format!("/api/participants/{id}/block"),
        Some(&admin.access),
        json!({}),
    )
    .await
    .data();

    let res = app
        .get("/api/participants?blocked=true", &admin.access)
        .await;
    let items = res.data()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], json!(id));
    assert_eq!(items[0]["blocked"], json!(true));
}

#[tokio::test]
async fn legacy_ids_are_unique_case_sensitively_and_duplicates_are_409() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;
    let with = |legacy: &str| json!({ "type": "user", "name": "U", "legacyId": legacy });
    app.post("/api/participants", Some(&admin.access), with("abc"))
        .await
        .data();
    app.post("/api/participants", Some(&admin.access), with("ABC"))
        .await
        .data();
    app.post("/api/participants", Some(&admin.access), with("abc"))
        .await
        .assert_error(409, "legacy_id_taken");
}
