//! The seeds' user endpoints: directory, profiles, own profile.

use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn users_see_astrologers_and_admins_but_not_other_users() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    app.participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    app.participant(&tenant, ParticipantType::User, "Other User")
        .await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let admin = app.login_admin(&tenant).await;

    let seen_by_user = app.get("/api/users", &user.access).await;
    assert_eq!(names(seen_by_user.data()), ["Admin", "Asha"]);
    let seen_by_admin = app.get("/api/users", &admin.access).await;
    assert_eq!(
        names(seen_by_admin.data()),
        ["Admin", "Asha", "Other User", "Uma"]
    );
}

#[tokio::test]
async fn contact_details_are_shown_to_admins_and_to_oneself_only() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (astro_id, _) = app
        .participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let admin = app.login_admin(&tenant).await;

    let as_user = app
        .get(&format!("/api/users/profile/{astro_id}"), &user.access)
        .await;
    assert!(as_user.data()["email"].is_null());
    let as_admin = app
        .get(&format!("/api/users/profile/{astro_id}"), &admin.access)
        .await;
    assert_eq!(as_admin.data()["email"], json!("asha@acme.test"));
    let own = app.get("/api/users/profile", &user.access).await;
    assert_eq!(own.data()["email"], json!("uma@acme.test"));
}

#[tokio::test]
async fn another_users_profile_is_a_404_for_a_user() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (other_id, _) = app
        .participant(&tenant, ParticipantType::User, "Other")
        .await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    app.get(&format!("/api/users/profile/{other_id}"), &user.access)
        .await
        .assert_error(404, "not_found");
    let own = app
        .get(&format!("/api/users/profile/{}", user.id), &user.access)
        .await;
    assert_eq!(own.data()["id"], json!(user.id));
}

#[tokio::test]
async fn search_matches_names_and_both_query_spellings_work() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    for name in ["Asha Rao", "Bhaskar", "Rashmi"] {
        app.participant(&tenant, ParticipantType::Astrologer, name)
            .await;
    }
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;

    let res = app.get("/api/users/search?q=ash", &user.access).await;
    assert_eq!(names(res.data()), ["Asha Rao", "Rashmi"]);
    let res = app.get("/api/users?search=bhas", &user.access).await;
    assert_eq!(names(res.data()), ["Bhaskar"]);
    let res = app.get("/api/users?type=admin", &user.access).await;
    assert_eq!(names(res.data()), ["Admin"]);
}

#[tokio::test]
async fn by_ids_returns_the_visible_participants_among_the_ids() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (astro, _) = app
        .participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let (hidden_user, _) = app
        .participant(&tenant, ParticipantType::User, "Other")
        .await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let ghost = uuid::Uuid::now_v7();

    let res = app
        .get(
            &format!(
                "/api/users/by-ids?ids={astro},{hidden_user},{ghost},{}",
                user.id
            ),
            &user.access,
        )
        .await;

    let mut ids: Vec<String> = res
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![astro.to_string(), user.id.to_string()];
    expected.sort();
    assert_eq!(ids, expected);
    app.get("/api/users/by-ids?ids=nope", &user.access)
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn a_participant_updates_their_own_profile_with_either_avatar_spelling() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;

    let res = app
        .patch(
            "/api/users/me",
            &user.access,
            json!({ "avatar": "https://cdn.example/u.png" }),
        )
        .await;
    assert_eq!(res.data()["avatarUrl"], json!("https://cdn.example/u.png"));
    let res = app
        .patch(
            "/api/users/me",
            &user.access,
            json!({ "avatarUrl": "/uploads/u2.png", "name": "Uma K", "status": "Hi" }),
        )
        .await;
    let data = res.data();
    assert_eq!(data["avatar"], json!("/uploads/u2.png"));
    assert_eq!(data["avatarUrl"], json!("/uploads/u2.png"));
    assert_eq!(
        (data["name"].as_str(), data["status"].as_str()),
        (Some("Uma K"), Some("Hi"))
    );
    // Email is not a field of this endpoint: it is ignored, not applied.
    let res = app
        .patch(
            "/api/users/me",
            &user.access,
            json!({ "email": "x@evil.test" }),
        )
        .await;
    assert_eq!(res.data()["email"], json!("uma@acme.test"));
    app.patch(
        "/api/users/me",
        &user.access,
        json!({ "status": "x".repeat(141) }),
    )
    .await
    .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn others_cannot_search_by_contact_details_they_cannot_see() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    app.participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let admin = app.login_admin(&tenant).await;

    // asha@acme.test: an admin finds her by email prefix; a user must not,
    // or the hidden address could be recovered one character at a time.
    let as_admin = app.get("/api/users?q=asha%40acme.t", &admin.access).await;
    assert_eq!(names(as_admin.data()), ["Asha"]);
    let as_user = app.get("/api/users?q=asha%40acme.t", &user.access).await;
    assert!(names(as_user.data()).is_empty());
    let as_user = app.get("/api/users/search?q=admin%40", &user.access).await;
    assert!(names(as_user.data()).is_empty());
}

#[tokio::test]
async fn blocked_participants_leave_the_directory_of_non_admins() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (astro, _) = app
        .participant(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let admin = app.login_admin(&tenant).await;
    app.post(
        &format!("/api/participants/{astro}/block"),
        Some(&admin.access),
        json!({}),
    )
    .await
    .data();

    let as_user = app.get("/api/users", &user.access).await;
    assert_eq!(names(as_user.data()), ["Admin"]);
    let as_admin = app.get("/api/users", &admin.access).await;
    assert!(names(as_admin.data()).contains(&"Asha".to_owned()));
    // A known id still resolves (chats show the name of a blocked partner).
    app.get(&format!("/api/users/profile/{astro}"), &user.access)
        .await
        .data();
}
