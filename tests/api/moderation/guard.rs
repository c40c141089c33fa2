//! The contact guard: off by default; `block` refuses a user's or an
//! astrologer's message with contact details in their conversation (edits
//! too), `mask` delivers it with the details hidden; admins' messages and
//! other conversations pass; every hit is flagged for the admins, per
//! tenant; the rules are checked when saved.

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::World;

async fn guard(world: &World, rules: Value) {
    world.settings(json!({ "contactGuard": rules })).await;
}

async fn post(
    world: &World,
    who: &crate::helpers::Login,
    conversation: &str,
    text: &str,
) -> crate::helpers::Res {
    world
        .app
        .post(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&who.access),
            json!({ "content": text }),
        )
        .await
}

async fn flags(world: &World) -> Vec<Value> {
    world
        .app
        .get("/api/moderation/contact-flags", &world.admin.access)
        .await
        .data()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_guard_is_off_until_the_tenant_turns_it_on() {
    let world = World::new().await;
    let conversation = world.open(&world.user, &world.astro).await;
    let sent = post(&world, &world.user, &conversation, "call me on 9876543210").await;
    assert_eq!(sent.data()["content"], json!("call me on 9876543210"));
    let settings = world.app.get("/api/settings", &world.admin.access).await;
    assert_eq!(settings.data()["contactGuard"]["mode"], json!("off"));
    assert!(flags(&world).await.is_empty());
}

#[tokio::test]
async fn block_refuses_contact_details_between_users_and_astrologers_and_flags_them() {
    let world = World::new().await;
    guard(&world, json!({ "mode": "block" })).await;
    let conversation = world.open(&world.user, &world.astro).await;

    for (who, text) in [
        (&world.user, "call me on +91 98765 43210"),
        (&world.astro, "write to me: asha@stars.example.com"),
        (&world.user, "let's talk on WhatsApp instead"),
    ] {
        let res = post(&world, who, &conversation, text).await;
        res.assert_error(422, "contact_details");
        assert!(
            res.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("contact details"),
            "{:?}",
            res.body
        );
    }
    // Ordinary talk passes; nothing refused was stored.
    post(
        &world,
        &world.user,
        &conversation,
        "Born 12-05-1990 at 06:10, Pune",
    )
    .await
    .data();
    let history = world.history(&world.astro, &conversation).await;
    assert_eq!(history.len(), 1);

    // An edit cannot slip the number in afterwards.
    let first = history[0]["id"].as_str().unwrap().to_owned();
    world
        .app
        .patch(
            &format!("/api/messages/{first}"),
            &world.user.access,
            json!({ "content": "ok my number 9876543210" }),
        )
        .await
        .assert_error(422, "contact_details");

    let flags = flags(&world).await;
    assert_eq!(flags.len(), 4, "{flags:?}");
    assert!(
        flags
            .iter()
            .all(|f| f["action"] == "blocked" && f["messageId"].is_null())
    );
    let kinds: Vec<Value> = flags.iter().map(|f| f["kinds"].clone()).collect();
    assert!(kinds.contains(&json!(["phone"])), "{kinds:?}");
    assert!(kinds.contains(&json!(["email", "link"])), "{kinds:?}");
    assert!(kinds.contains(&json!(["handle"])), "{kinds:?}");
    assert_eq!(flags[3]["excerpt"], json!("call me on +91 98765 43210"));
    assert_eq!(flags[3]["senderId"], json!(world.user.id));
    // One sender's flags.
    let only = world
        .app
        .get(
            &format!(
                "/api/moderation/contact-flags?participantId={}",
                world.astro.id
            ),
            &world.admin.access,
        )
        .await;
    assert_eq!(only.data().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn mask_delivers_the_message_with_the_details_hidden() {
    let world = World::new().await;
    guard(
        &world,
        json!({ "mode": "mask", "patterns": ["\\bpaytm\\b"] }),
    )
    .await;
    let conversation = world.open(&world.user, &world.astro).await;

    let sent = post(
        &world,
        &world.user,
        &conversation,
        "my no. 9876543210, or pay on Paytm",
    )
    .await;

    assert_eq!(sent.data()["content"], json!("my no. •••, or pay on •••"));
    let seen = world.history(&world.astro, &conversation).await;
    assert_eq!(seen[0]["content"], json!("my no. •••, or pay on •••"));
    let flags = flags(&world).await;
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0]["action"], json!("masked"));
    assert_eq!(flags[0]["messageId"], sent.data()["id"]);
    assert_eq!(flags[0]["kinds"], json!(["phone", "pattern"]));
    assert_eq!(
        flags[0]["excerpt"],
        json!("my no. 9876543210, or pay on Paytm")
    );
}

#[tokio::test]
async fn admins_and_other_conversations_are_not_held_back() {
    let world = World::new().await;
    guard(&world, json!({ "mode": "block" })).await;
    // The astrologer's conversation with the admins.
    let admin_channel = world
        .app
        .post(
            "/api/conversations",
            Some(&world.admin.access),
            json!({ "participantId": world.astro.id }),
        )
        .await;
    let admin_channel = admin_channel.data()["id"].as_str().unwrap().to_owned();
    post(
        &world,
        &world.admin,
        &admin_channel,
        "support: +91 11 2345 6789",
    )
    .await
    .data();
    post(
        &world,
        &world.astro,
        &admin_channel,
        "my bank: asha@bank.example.com",
    )
    .await
    .data();
    // A group with a user and an astrologer (made by the admins).
    let group = world
        .app
        .post(
            "/api/conversations",
            Some(&world.admin.access),
            json!({ "type": "group", "title": "Circle", "memberIds": [world.astro.id, world.user.id] }),
        )
        .await;
    let group = group.data()["id"].as_str().unwrap().to_owned();
    post(&world, &world.admin, &group, "helpline 1800 123 4567")
        .await
        .data();
    assert!(flags(&world).await.is_empty());
}

#[tokio::test]
async fn the_rules_are_checked_and_flags_are_the_tenant_s_own() {
    let world = World::new().await;
    for bad in [
        json!({ "mode": "shout" }),
        json!({ "patterns": ["(unclosed"] }),
        json!({ "patterns": [""] }),
    ] {
        let res = world
            .app
            .patch(
                "/api/settings",
                &world.admin.access,
                json!({ "contactGuard": bad }),
            )
            .await;
        assert_eq!(res.status.as_u16(), 422, "{bad}: {:?}", res.body);
    }
    guard(&world, json!({ "mode": "block", "phones": false })).await;
    let conversation = world.open(&world.user, &world.astro).await;
    // Phones are not looked for now; links still are.
    post(&world, &world.user, &conversation, "9876543210")
        .await
        .data();
    post(&world, &world.user, &conversation, "see www.example.com")
        .await
        .assert_error(422, "contact_details");
    assert_eq!(flags(&world).await.len(), 1);

    let rival = world.app.tenant("rival").await;
    let rival_admin = world.app.login_admin(&rival).await;
    let theirs = world
        .app
        .get("/api/moderation/contact-flags", &rival_admin.access)
        .await;
    assert_eq!(theirs.data(), &json!([]));
    for who in [&world.user, &world.astro] {
        world
            .app
            .call(
                Method::GET,
                "/api/moderation/contact-flags",
                Some(&who.access),
                None,
            )
            .await
            .assert_error(403, "forbidden");
    }
}
