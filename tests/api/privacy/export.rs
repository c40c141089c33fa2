//! Exports: a participant's own, and any of the tenant's for its admins;
//! everything is there; audited; nobody else's.

use reqwest::Method;
use serde_json::json;

use crate::world::World;

#[tokio::test]
async fn a_participant_exports_everything_samvad_keeps_about_them() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    world
        .send(&world.user, &conversation, "my chart please")
        .await;
    world.send(&world.astro, &conversation, "sure").await;
    world.send(&world.user, &conversation, "thank you").await;
    world
        .app
        .post(
            "/api/devices",
            Some(&world.user.access),
            json!({ "platform": "fcm", "token": "fcm-token-of-uma" }),
        )
        .await
        .data();

    let export = world
        .app
        .get("/api/users/me/export", &world.user.access)
        .await;

    let e = export.data();
    assert_eq!(e["participant"]["id"], json!(world.user.id));
    assert!(
        e["participant"]["email"].is_string(),
        "their own contact details"
    );
    let texts: Vec<&str> = e["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec!["my chart please", "thank you"],
        "only what they sent"
    );
    assert_eq!(e["truncated"], json!(false));
    assert_eq!(e["conversations"][0]["conversationId"], json!(conversation));
    assert_eq!(e["devices"][0]["token"], json!("fcm-token-of-uma"));
    assert!(!e["sessions"].as_array().unwrap().is_empty());
    assert_eq!(e["consultations"].as_array().unwrap().len(), 1);
    assert!(e["consents"].is_object());
    for key in ["calls", "notifications", "chatRequests"] {
        assert!(e[key].is_array(), "{key}");
    }

    // The admins export anyone of theirs; it is audited.
    let by_admin = world
        .app
        .get(
            &format!("/api/participants/{}/export", world.astro.id),
            &world.admin.access,
        )
        .await;
    assert_eq!(by_admin.data()["messages"][0]["content"], json!("sure"));
    let audit = world
        .app
        .get(
            "/api/audit-log?action=participant.export",
            &world.admin.access,
        )
        .await;
    assert_eq!(audit.data()["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn nobody_exports_someone_else_but_their_admins() {
    let world = World::new().await;
    let path = format!("/api/participants/{}/export", world.user.id);
    for who in [&world.astro, &world.stranger] {
        world
            .app
            .call(Method::GET, &path, Some(&who.access), None)
            .await
            .assert_error(403, "forbidden");
    }
    let rival = world.app.tenant("rival").await;
    let rival_admin = world.app.login_admin(&rival).await;
    world
        .app
        .get(&path, &rival_admin.access)
        .await
        .assert_error(404, "not_found");
}
