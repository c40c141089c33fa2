//! Push devices: registered by a session, listed while it lives, moved
//! when the same token registers again, gone at logout, removable, one's
//! own only.

use reqwest::Method;
use serde_json::json;

use crate::world::World;

const FCM_TOKEN: &str = "fcm-token-0123456789abcdefghijklmnopqrstuvwxyz";

#[tokio::test]
async fn a_device_lives_with_its_session_and_moves_with_its_token() {
    let world = World::new().await;
    let body =
        json!({ "platform": "fcm", "token": FCM_TOKEN, "appId": "app.astro", "locale": "hi-IN" });

    let device = world
        .app
        .post("/api/devices", Some(&world.astro.access), body.clone())
        .await;
    let device = device.data().clone();
    assert_eq!(device["platform"], "fcm");
    assert_eq!(device["voip"], false);
    let listed = world.app.get("/api/devices", &world.astro.access).await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);

    // The same phone, another account: the token moves.
    world
        .app
        .post("/api/devices", Some(&world.user.access), body)
        .await
        .data();
    assert_eq!(
        world
            .app
            .get("/api/devices", &world.astro.access)
            .await
            .data(),
        &json!([])
    );
    assert_eq!(
        world
            .app
            .get("/api/devices", &world.user.access)
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Logout ends it.
    world
        .app
        .post("/api/auth/logout", Some(&world.user.access), json!({}))
        .await
        .data();
    let relogged = world
        .app
        .login(&world.tenant, &format!("uma@{}.test", world.tenant.slug))
        .await;
    assert_eq!(
        world.app.get("/api/devices", &relogged.access).await.data(),
        &json!([])
    );
}

#[tokio::test]
async fn bad_devices_are_422_and_anyone_elses_device_is_404() {
    let world = World::new().await;
    for bad in [
        json!({ "platform": "sms", "token": FCM_TOKEN }),
        json!({ "platform": "fcm", "token": "" }),
        json!({ "platform": "apns", "token": "not hex" }),
        json!({ "platform": "fcm", "token": FCM_TOKEN, "voip": true }),
    ] {
        world
            .app
            .post("/api/devices", Some(&world.astro.access), bad)
            .await
            .assert_error(422, "validation_failed");
    }
    let device = world
        .app
        .post(
            "/api/devices",
            Some(&world.astro.access),
            json!({ "platform": "apns", "token": "ab12cd34", "voip": true }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    world
        .assert_not_found_for_all_but_the_astrologer(&[(
            Method::DELETE,
            format!("/api/devices/{device}"),
        )])
        .await;
    world
        .call(
            &world.astro,
            Method::DELETE,
            &format!("/api/devices/{device}"),
            None,
        )
        .await
        .data();
    assert_eq!(
        world
            .app
            .get("/api/devices", &world.astro.access)
            .await
            .data(),
        &json!([])
    );
}
