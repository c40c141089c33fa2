//! Conversations: one direct conversation per pair, hiding and returning,
//! groups and their roles, closing and reopening, the seed-004 admin
//! channel, and the list ordered by activity.

use std::collections::HashSet;

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::json;

use crate::world::World;

#[tokio::test]
async fn opening_a_direct_conversation_twice_or_at_once_gives_one() {
    let w = World::new().await;
    let first = w.open(&w.user, &w.astro).await;
    assert_eq!(
        w.open(&w.astro, &w.user).await,
        first,
        "the pair is unordered"
    );

    let body =
        json!({ "participantId": w.astro.id, "contextType": "consultation", "contextId": "c-1" });
    let racing = futures::future::join_all((0..10).map(|_| {
        w.app
            .post("/api/conversations", Some(&w.user.access), body.clone())
    }))
    .await;
    let ids: HashSet<String> = racing
        .iter()
        .map(|r| r.data()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "racing opens made {ids:?}");
    assert!(
        !ids.contains(&first),
        "another context is another conversation"
    );
    let view = w.conversation(&w.user, ids.iter().next().unwrap()).await;
    assert_eq!(
        (view["contextType"].as_str(), view["contextId"].as_str()),
        (Some("consultation"), Some("c-1"))
    );
}

#[tokio::test]
async fn a_conversation_deleted_for_me_returns_with_the_next_message_without_its_past() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    w.send(&w.astro, &id, "old").await;
    w.call(
        &w.user,
        Method::DELETE,
        &format!("/api/conversations/{id}"),
        None,
    )
    .await
    .data();
    let list = || async {
        w.app.get("/api/conversations", &w.user.access).await.data()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(list().await, 0);

    w.send(&w.astro, &id, "new").await;
    assert_eq!(list().await, 1);
    let history = w.history(&w.user, &id).await;
    assert_eq!(
        history
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["new"]
    );
    assert_eq!(w.conversation(&w.user, &id).await["unreadCount"], json!(1));
    assert_eq!(w.history(&w.astro, &id).await.len(), 2);
}

#[tokio::test]
async fn groups_have_owners_admins_and_members() {
    let w = World::new().await;
    let body = json!({ "type": "group", "title": "Full moon circle", "memberIds": [w.astro.id, w.user.id] });
    w.app
        .post("/api/conversations", Some(&w.user.access), body.clone())
        .await
        .assert_error(403, "forbidden");
    let group = w
        .app
        .post("/api/conversations", Some(&w.admin.access), body)
        .await;
    let id = group.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(group.data()["role"], json!("owner"));
    assert_eq!(group.data()["members"].as_array().unwrap().len(), 3);
    w.send(&w.user, &id, "hello circle").await;

    let members = format!("/api/conversations/{id}/members");
    w.app
        .post(
            &members,
            Some(&w.user.access),
            json!({ "memberIds": [w.stranger.id] }),
        )
        .await
        .assert_error(403, "forbidden");
    w.app
        .post(
            &members,
            Some(&w.admin.access),
            json!({ "memberIds": [w.stranger.id] }),
        )
        .await
        .data();
    w.call(
        &w.admin,
        Method::PATCH,
        &format!("{members}/{}", w.astro.id),
        Some(json!({ "role": "admin" })),
    )
    .await
    .data();
    // The new group admin removes a member but not the owner.
    w.call(
        &w.astro,
        Method::DELETE,
        &format!("{members}/{}", w.stranger.id),
        None,
    )
    .await
    .data();
    w.call(
        &w.astro,
        Method::DELETE,
        &format!("{members}/{}", w.admin.id),
        None,
    )
    .await
    .assert_error(403, "forbidden");
    w.app
        .patch(
            &format!("/api/conversations/{id}"),
            &w.astro.access,
            json!({ "title": "New moon" }),
        )
        .await
        .data();
    // Anyone leaves; the owner leaving hands the group on.
    w.call(
        &w.user,
        Method::DELETE,
        &format!("{members}/{}", w.user.id),
        None,
    )
    .await
    .data();
    w.app
        .post(
            &format!("/api/conversations/{id}/messages"),
            Some(&w.user.access),
            json!({ "content": "still here?" }),
        )
        .await
        .assert_error(404, "not_found");
    w.call(
        &w.admin,
        Method::DELETE,
        &format!("{members}/{}", w.admin.id),
        None,
    )
    .await
    .data();
    let view = w.conversation(&w.astro, &id).await;
    assert_eq!(view["title"], json!("New moon"));
    assert_eq!(view["role"], json!("owner"));
    assert_eq!(view["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn admins_close_and_reopen_conversations() {
    let w = World::new().await;
    let id = w.open(&w.user, &w.astro).await;
    let path = format!("/api/conversations/{id}");
    w.app
        .patch(&path, &w.astro.access, json!({ "isActive": false }))
        .await
        .assert_error(403, "forbidden");
    let closed = w
        .app
        .patch(&path, &w.admin.access, json!({ "isActive": false }))
        .await;
    assert_eq!(closed.data()["isActive"], json!(false));
    w.app
        .post(
            &format!("{path}/messages"),
            Some(&w.user.access),
            json!({ "content": "hello?" }),
        )
        .await
        .assert_error(409, "conversation_closed");
    let all = w
        .app
        .get(
            "/api/conversations?all=true&isActive=false",
            &w.admin.access,
        )
        .await;
    assert_eq!(all.data()["items"][0]["id"], json!(id));
    w.app
        .get("/api/conversations?all=true", &w.user.access)
        .await
        .assert_error(403, "forbidden");
    w.app
        .patch(&path, &w.admin.access, json!({ "isActive": true }))
        .await
        .data();
    w.send(&w.user, &id, "back").await;
}

#[tokio::test]
async fn the_seed_004_admin_and_astrologer_channel_is_one_conversation() {
    let w = World::new().await;
    let admin_side = format!("/api/admin/conversations/{}", w.astro.id);
    let opened = w.app.get(&admin_side, &w.admin.access).await;
    let id = opened.data()["conversation"]["id"].clone();
    assert_eq!(
        opened.data()["conversation"]["type"],
        json!("admin_astrologer")
    );
    w.app
        .post(
            &format!("{admin_side}/messages"),
            Some(&w.admin.access),
            json!({ "content": "please call me" }),
        )
        .await
        .data();

    let astro_side = w.app.get("/api/conversations/admin", &w.astro.access).await;
    assert_eq!(astro_side.data()["conversation"]["id"], id);
    assert_eq!(astro_side.data()["conversation"]["unreadCount"], json!(1));
    assert_eq!(
        astro_side.data()["messages"]["items"][0]["senderType"],
        json!("admin")
    );
    w.app
        .post(
            "/api/conversations/admin/messages",
            Some(&w.astro.access),
            json!({ "text": "calling" }),
        )
        .await
        .data();
    let seen = w
        .app
        .get(&format!("{admin_side}/messages"), &w.admin.access)
        .await;
    assert_eq!(seen.data()["items"][0]["text"], json!("calling"));

    w.app
        .get(&admin_side, &w.user.access)
        .await
        .assert_error(403, "forbidden");
    w.app
        .get("/api/conversations/admin", &w.user.access)
        .await
        .assert_error(403, "forbidden");
    w.app
        .get(
            &format!("/api/admin/conversations/{}", w.user.id),
            &w.admin.access,
        )
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn the_list_orders_by_activity_and_shows_last_messages_and_members() {
    let w = World::new().await;
    let with_astro = w.open(&w.user, &w.astro).await;
    w.send(&w.user, &with_astro, "first").await;
    let other_astro = w
        .app
        .participant_login(&w.tenant, ParticipantType::Astrologer, "Bela")
        .await;
    let body = json!({ "userId": w.user.id, "astrologerId": other_astro.id });
    w.app
        .post("/api/consultations", Some(&w.admin.access), body)
        .await
        .data();
    let with_other = w.open(&w.user, &other_astro).await;
    w.send(&other_astro, &with_other, "newer").await;

    let page = w
        .app
        .get("/api/conversations?limit=1", &w.user.access)
        .await;
    assert_eq!(page.data()["items"][0]["id"], json!(with_other));
    assert_eq!(
        page.data()["items"][0]["lastMessage"]["content"],
        json!("newer")
    );
    let names: Vec<&str> = page.data()["items"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Bela") && names.contains(&"Uma"),
        "{names:?}"
    );
    let cursor = page.data()["nextCursor"].as_str().unwrap();
    let next = w
        .app
        .get(
            &format!("/api/conversations?limit=1&cursor={cursor}"),
            &w.user.access,
        )
        .await;
    assert_eq!(next.data()["items"][0]["id"], json!(with_astro));
    assert!(next.data()["nextCursor"].is_null());
    let filtered = w
        .app
        .get(
            &format!("/api/conversations?with={}", other_astro.id),
            &w.user.access,
        )
        .await;
    assert_eq!(filtered.data()["items"].as_array().unwrap().len(), 1);
}
