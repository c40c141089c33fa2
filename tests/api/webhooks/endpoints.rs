//! Registering endpoints: the secret shown once, checked input, the rule
//! against private targets (at registration and at sending), changes,
//! a new secret, permissions, tenancy and the audit trail.

use reqwest::Method;
use serde_json::{Value, json};

use super::{WAIT, arrived, deliveries, hook_world, register};
use crate::{helpers::within, world::World};

#[tokio::test]
async fn the_secret_is_shown_once_and_input_is_checked() {
    let (world, receiver) = hook_world(&[]).await;
    let (app, admin) = (&world.app, &world.admin.access);
    let created = app
        .post(
            "/api/webhooks",
            Some(admin),
            json!({
                "url": receiver.url("/a"),
                "eventTypes": ["message.created", "call.missed", "message.created"],
                "description": "  CRM sync ",
            }),
        )
        .await;
    let secret = created.data()["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let endpoint = &created.data()["endpoint"];
    assert_eq!(
        endpoint["eventTypes"],
        json!(["message.created", "call.missed"])
    );
    assert_eq!(endpoint["description"], json!("CRM sync"));
    assert_eq!(endpoint["enabled"], json!(true));
    let id = endpoint["id"].as_str().unwrap();

    let listed = app.get("/api/webhooks", admin).await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    let one = app.get(&format!("/api/webhooks/{id}"), admin).await;
    for shown in [listed.body.to_string(), one.body.to_string()] {
        assert!(!shown.contains(secret), "the secret is shown once");
    }

    for (body, why) in [
        (
            json!({ "url": receiver.url("/b"), "eventTypes": [] }),
            "no type",
        ),
        (
            json!({ "url": receiver.url("/b"), "eventTypes": ["message.sent"] }),
            "unknown type",
        ),
        (
            json!({ "url": "ftp://example.com/x", "eventTypes": ["message.created"] }),
            "scheme",
        ),
        (
            json!({ "url": "not a url", "eventTypes": ["message.created"] }),
            "not a URL",
        ),
        (
            json!({ "url": "https://u:p@example.com/", "eventTypes": ["message.created"] }),
            "credentials",
        ),
    ] {
        let res = app.post("/api/webhooks", Some(admin), body).await;
        assert_eq!(res.status.as_u16(), 422, "{why}: {:?}", res.body);
        assert_eq!(res.body["success"], json!(false), "{why}");
    }
    app.post("/api/webhooks", Some(admin), json!({ "url": 5 }))
        .await
        .assert_error(400, "bad_request");
}

#[tokio::test]
async fn private_and_loopback_targets_are_refused_unless_allowed() {
    let world = World::new().await;
    let (app, admin) = (&world.app, &world.admin.access);
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.1.10/",
    ] {
        let res = app
            .post(
                "/api/webhooks",
                Some(admin),
                json!({ "url": url, "eventTypes": ["message.created"] }),
            )
            .await;
        assert_eq!(res.status.as_u16(), 422, "{url}: {:?}", res.body);
    }
    // A public name is taken (it is checked again at each connection).
    app.post(
        "/api/webhooks",
        Some(admin),
        json!({ "url": "https://hooks.example.com/samvad", "eventTypes": ["message.created"] }),
    )
    .await
    .data();

    // An endpoint that got to a loopback address anyway (saved while the
    // rule was lifted) is refused when sending.
    let receiver = crate::helpers::webhooks::Receiver::start().await;
    let made = app
        .post(
            "/api/webhooks",
            Some(admin),
            json!({ "url": "https://hooks.example.org/x", "eventTypes": ["message.created"] }),
        )
        .await;
    let endpoint = made.data()["endpoint"].clone();
    sqlx::query("UPDATE webhook_endpoints SET url = ? WHERE id = ?")
        .bind(receiver.url("/sneaky"))
        .bind(
            endpoint["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        )
        .execute(&app.pool)
        .await
        .unwrap();
    let conversation = world.open(&world.user, &world.astro).await;
    world.send(&world.user, &conversation, "psst").await;
    within(WAIT, "the attempt refused", async || {
        deliveries(&world, &endpoint)
            .await
            .first()
            .is_some_and(|d| d["error"].as_str().is_some_and(|e| e.contains("private")))
    })
    .await;
    assert!(receiver.received().await.is_empty());
}

#[tokio::test]
async fn an_endpoint_can_be_changed_turned_off_and_given_a_new_secret() {
    let (world, receiver) = hook_world(&[]).await;
    let (app, admin) = (&world.app, &world.admin.access);
    let endpoint = register(&world, &receiver, "/one", &["call.missed"]).await;
    let path = format!("/api/webhooks/{}", endpoint["id"].as_str().unwrap());
    let changed = app
        .patch(
            &path,
            admin,
            json!({ "url": receiver.url("/two"), "eventTypes": ["message.created"], "description": "new" }),
        )
        .await;
    assert_eq!(changed.data()["url"], json!(receiver.url("/two")));
    assert_eq!(changed.data()["eventTypes"], json!(["message.created"]));

    // A new secret: deliveries verify with it (the receiver knows only it).
    let rotated = app
        .post(&format!("{path}/secret"), Some(admin), json!({}))
        .await;
    let secret = rotated.data()["secret"].as_str().unwrap();
    receiver.set_secret(secret).await;
    let conversation = world.open(&world.user, &world.astro).await;
    world
        .send(&world.user, &conversation, "with the new secret")
        .await;
    let got = arrived(&receiver, "message.created", 1).await;
    assert_eq!(got[0]["path"], json!("/two"));
    assert_eq!(got[0]["verified"], json!(true), "{:?}", got[0]);

    // Off: nothing more is made for it.
    let off = app.patch(&path, admin, json!({ "enabled": false })).await;
    assert_eq!(off.data()["enabled"], json!(false));
    assert!(off.data()["disabledReason"].is_null());
    world
        .send(&world.user, &conversation, "nobody listens")
        .await;
    super::settled(app).await;
    assert_eq!(deliveries(&world, &endpoint).await.len(), 1);

    app.call(Method::DELETE, &path, Some(admin), None)
        .await
        .data();
    app.get(&path, admin).await.assert_error(404, "not_found");

    // Every change is in the audit log.
    let audit = app.get("/api/audit-log?limit=100", admin).await;
    let actions: Vec<&str> = audit.data()["items"]
        .as_array()
        .or_else(|| audit.data().as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "webhook.create",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn only_the_tenant_s_admins_see_and_change_its_endpoints() {
    let (world, receiver) = hook_world(&[]).await;
    let endpoint = register(&world, &receiver, "/mine", &["message.created"]).await;
    let id = endpoint["id"].as_str().unwrap();
    let conversation = world.open(&world.user, &world.astro).await;
    world
        .send(&world.user, &conversation, "make a delivery")
        .await;
    arrived(&receiver, "message.created", 1).await;
    let delivery = deliveries(&world, &endpoint).await[0]["id"].clone();
    let delivery = delivery.as_str().unwrap();

    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/webhooks/{id}"), None),
        (
            Method::PATCH,
            format!("/api/webhooks/{id}"),
            Some(json!({ "enabled": false })),
        ),
        (Method::DELETE, format!("/api/webhooks/{id}"), None),
        (
            Method::POST,
            format!("/api/webhooks/{id}/secret"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/webhooks/{id}/deliveries"), None),
        (
            Method::POST,
            format!("/api/webhooks/{id}/deliveries/{delivery}/resend"),
            Some(json!({})),
        ),
    ];
    // Another tenant's admin: not found.
    let rival = world.app.tenant("rival").await;
    let rival_admin = world.app.login_admin(&rival).await;
    for (method, path, body) in &calls {
        world
            .app
            .call(
                method.clone(),
                path,
                Some(&rival_admin.access),
                body.clone(),
            )
            .await
            .assert_error(404, "not_found");
    }
    let theirs = world.app.get("/api/webhooks", &rival_admin.access).await;
    assert_eq!(theirs.data(), &json!([]));
    // Users and astrologers: forbidden.
    for who in [&world.user, &world.astro] {
        for (method, path, body) in &calls {
            let res = world
                .app
                .call(method.clone(), path, Some(&who.access), body.clone())
                .await;
            assert_eq!(res.status.as_u16(), 403, "{method} {path}: {:?}", res.body);
        }
        world
            .app
            .post(
                "/api/webhooks",
                Some(&who.access),
                json!({ "url": receiver.url("/x"), "eventTypes": ["message.created"] }),
            )
            .await
            .assert_error(403, "forbidden");
    }
    // And the endpoint is untouched.
    let still = world
        .app
        .get(&format!("/api/webhooks/{id}"), &world.admin.access)
        .await;
    assert_eq!(still.data()["enabled"], json!(true));
}
