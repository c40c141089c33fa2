//! Tenancy for messaging: every conversation, message and relationship
//! endpoint answers another tenant's object exactly like a missing one (404),
//! and lists and searches never show it.

use reqwest::Method;
use samvad::{api::direct_paths::is_direct, domain::participant::ParticipantType};
use serde_json::{Value, json};

use crate::helpers::{Login, TestApp};
use crate::world::World;

/// Another tenant's objects, as seen from nowhere near them.
struct Foreign {
    admin: Login,
    astro: Login,
    user: Login,
    conversation: String,
    message: String,
    consultation: String,
    request: String,
}

async fn foreign(app: &TestApp) -> Foreign {
    let tenant = app.tenant("other").await;
    let admin = app.login_admin(&tenant).await;
    let astro = app
        .participant_login(&tenant, ParticipantType::Astrologer, "Foreign Astro")
        .await;
    let user = app
        .participant_login(&tenant, ParticipantType::User, "Foreign User")
        .await;
    let asker = app
        .participant_login(&tenant, ParticipantType::User, "Foreign Asker")
        .await;
    let consultation = app
        .post(
            "/api/consultations",
            Some(&admin.access),
            json!({ "userId": user.id, "astrologerId": astro.id }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let opened = app
        .post(
            "/api/conversations",
            Some(&user.access),
            json!({ "participantId": astro.id }),
        )
        .await;
    let conversation = opened.data()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/conversations/{conversation}/messages");
    let sent = app
        .post(
            &path,
            Some(&user.access),
            json!({ "content": "foreign secret" }),
        )
        .await;
    let message = sent.data()["id"].as_str().unwrap().to_owned();
    let asked = app
        .post(
            "/api/chat-requests",
            Some(&asker.access),
            json!({ "to": astro.id }),
        )
        .await;
    let request = asked.data()["id"].as_str().unwrap().to_owned();
    Foreign {
        admin,
        astro,
        user,
        conversation,
        message,
        consultation,
        request,
    }
}

#[rustfmt::skip]
#[tokio::test]
async fn another_tenants_conversations_messages_and_relationships_are_404_everywhere() {
    let w = World::in_app(TestApp::spawn().await, "acme").await;
    let f = foreign(&w.app).await;
    let mine = w.open(&w.user, &w.astro).await;
    let my_message = w.send(&w.user, &mine, "mine")  .await["id"].as_str().unwrap().to_owned();
    let group = w.app
        .post("/api/conversations", Some(&w.admin.access), json!({ "type": "group", "title": "Circle", "memberIds": [w.astro.id] }))
        .await
        .data()["id"].as_str().unwrap().to_owned();
    let ghost = uuid::Uuid::now_v7().to_string();

    // (method, path with {x} for the foreign/ghost id, body with "{x}" likewise, caller)
    let calls: Vec<(Method, String, Value, &Login)> = vec![
        // Conversations by id, as a member-capable caller and as an admin.
        (Method::GET,    "/api/conversations/{x}".into(),                      json!(null), &w.user),
        (Method::GET,    "/api/conversations/{x}".into(),                      json!(null), &w.admin),
        (Method::PATCH,  "/api/conversations/{x}".into(),                      json!({ "isActive": false }), &w.admin),
        (Method::DELETE, "/api/conversations/{x}".into(),                      json!(null), &w.user),
        (Method::GET,    "/api/conversations/{x}/messages".into(),             json!(null), &w.admin),
        (Method::POST,   "/api/conversations/{x}/messages".into(),             json!({ "content": "hi" }), &w.user),
        (Method::POST,   "/api/conversations/{x}/delivered".into(),            json!({ "seq": 1 }), &w.user),
        (Method::POST,   "/api/conversations/{x}/read".into(),                 json!({ "seq": 1 }), &w.user),
        (Method::GET,    "/api/conversations/{x}/members".into(),              json!(null), &w.admin),
        (Method::POST,   "/api/conversations/{x}/members".into(),              json!({ "memberIds": [w.user.id] }), &w.admin),
        (Method::PATCH,  format!("/api/conversations/{{x}}/members/{}", w.astro.id), json!({ "role": "admin" }), &w.admin),
        (Method::DELETE, format!("/api/conversations/{{x}}/members/{}", w.astro.id), json!(null), &w.admin),
        (Method::POST,   "/api/conversations/{x}/mute".into(),                 json!({ "muted": true }), &w.user),
        // Foreign participants inside my own group.
        (Method::POST,   format!("/api/conversations/{group}/members"),        json!({ "memberIds": ["{x}"] }), &w.admin),
        (Method::PATCH,  format!("/api/conversations/{group}/members/{{x}}"),  json!({ "role": "admin" }), &w.admin),
        (Method::DELETE, format!("/api/conversations/{group}/members/{{x}}"),  json!(null), &w.admin),
        // Opening conversations with foreign participants.
        (Method::POST,   "/api/conversations".into(),                          json!({ "participantId": "{x}" }), &w.user),
        (Method::POST,   "/api/conversations".into(),                          json!({ "type": "group", "title": "T", "memberIds": ["{x}"] }), &w.admin),
        (Method::GET,    "/api/admin/conversations/{x}".into(),                json!(null), &w.admin),
        (Method::POST,   "/api/contacts/start-chat".into(),                    json!({ "participantId": "{x}" }), &w.user),
        // The seeds' message spellings.
        (Method::GET,    "/api/messages?conversationId={x}".into(),            json!(null), &w.admin),
        (Method::POST,   "/api/messages".into(),                               json!({ "conversationId": "{x}", "content": "hi" }), &w.user),
        (Method::POST,   "/api/messages".into(),                               json!({ "to": "{x}", "content": "hi" }), &w.user),
        (Method::GET,    "/api/messages/search?q=secret&conversationId={x}".into(), json!(null), &w.user),
        // Messages by id.
        (Method::PATCH,  "/api/messages/{x}".into(),                           json!({ "content": "edited" }), &w.user),
        (Method::DELETE, "/api/messages/{x}".into(),                           json!(null), &w.user),
        (Method::DELETE, "/api/messages/{x}?forEveryone=true".into(),          json!(null), &w.admin),
        (Method::POST,   "/api/messages/{x}/reactions".into(),                 json!({ "emoji": "🙏" }), &w.user),
        (Method::POST,   "/api/messages/{x}/forward".into(),                   json!({ "conversationId": mine }), &w.user),
        (Method::POST,   format!("/api/messages/{my_message}/forward"),        json!({ "conversationId": "{x}" }), &w.user),
        // Relationships.
        (Method::POST,   "/api/consultations".into(),                          json!({ "userId": "{x}", "astrologerId": w.astro.id }), &w.admin),
        (Method::POST,   "/api/consultations".into(),                          json!({ "userId": w.user.id, "astrologerId": "{x}" }), &w.admin),
        (Method::PATCH,  "/api/consultations/{x}".into(),                      json!({ "status": "completed" }), &w.admin),
        (Method::POST,   "/api/chat-requests".into(),                          json!({ "to": "{x}" }), &w.stranger),
        (Method::POST,   "/api/chat-requests/{x}/accept".into(),               json!({}), &w.astro),
        (Method::POST,   "/api/chat-requests/{x}/decline".into(),              json!({}), &w.astro),
        (Method::POST,   "/api/blocks".into(),                                 json!({ "participantId": "{x}" }), &w.user),
        (Method::DELETE, "/api/blocks/{x}".into(),                             json!(null), &w.user),
    ];

    // Which foreign id each call is about.
    let pick = |path: &str, body: &Value| -> String {
        let text = format!("{path} {body}");
        if text.contains("consultations/{x}") { return f.consultation.clone() }
        if text.contains("chat-requests/{x}") { return f.request.clone() }
        if text.contains("messages/{x}") { return f.message.clone() }
        if text.contains("conversations/{x}") || text.contains("conversationId") { return f.conversation.clone() }
        if text.contains("astrologerId\":\"{x}") || text.contains("chat-requests") || text.contains("admin/conversations") {
            return f.astro.id.to_string();
        }
        f.user.id.to_string()
    };
    // Backend1's direct paths (without `/api`) answer the same.
    let calls: Vec<(Method, String, Value, &Login)> = calls
        .into_iter()
        .flat_map(|call| {
            let direct = call.1.strip_prefix("/api").filter(|bare| is_direct(bare)).map(|bare| {
                (call.0.clone(), bare.to_owned(), call.2.clone(), call.3)
            });
            std::iter::once(call).chain(direct)
        })
        .collect();
    for (method, template, body, who) in &calls {
        let foreign_id = pick(template, body);
        let mut answers = Vec::new();
        for id in [&foreign_id, &ghost] {
            let path = template.replace("{x}", id);
            let body = (!body.is_null()).then(|| serde_json::from_str(&body.to_string().replace("{x}", id)).unwrap());
            let res = w.call(who, method.clone(), &path, body).await;
            assert_eq!(res.status.as_u16(), 404, "{method} {path}: {}", res.body);
            answers.push(res.body);
        }
        assert_eq!(answers[0], answers[1], "{method} {template}: existence leaks");
    }

    // References inside a body answer as for a message that does not exist.
    let reply = |to: &str| json!({ "content": "re", "replyTo": to });
    let path = format!("/api/conversations/{mine}/messages");
    let a = w.app.post(&path, Some(&w.user.access), reply(&f.message)).await;
    let b = w.app.post(&path, Some(&w.user.access), reply(&ghost)).await;
    a.assert_error(422, "validation_failed");
    assert_eq!(a.body, b.body);
    w.send(&w.astro, &mine, "unread").await; // seq 2; the user has read their own seq 1
    let path = format!("/api/conversations/{mine}/read");
    let read = |id: &str| {
        w.app
            .post(&path, Some(&w.user.access), json!({ "messageIds": [id] }))
    };
    let (foreign, unknown) = (read(&f.message).await, read(&ghost).await);
    foreign.assert_error(404, "not_found");
    assert_eq!(foreign.body, unknown.body, "a foreign message is an unknown one");
    let unmoved = w
        .app
        .post(&path, Some(&w.user.access), json!({ "seq": 0 }))
        .await;
    assert_eq!(unmoved.data()["readSeq"], json!(1), "it moves no cursor");

    // Lists and searches never show foreign objects.
    for (path, who) in [
        ("/api/conversations", &w.user),
        ("/api/conversations?all=true", &w.admin),
        ("/conversations?all=true", &w.admin),
        ("/api/messages/search?q=secret", &w.user),
        ("/messages/search?q=secret", &w.user),
        ("/chat-requests", &w.astro),
        ("/api/consultations", &w.admin),
        ("/api/chat-requests", &w.astro),
        ("/api/blocks", &w.user),
    ] {
        let res = w.app.get(path, &who.access).await;
        let text = res.body.to_string();
        for id in [&f.conversation, &f.message, &f.consultation, &f.request, &f.astro.id.to_string()] {
            assert!(!text.contains(id.as_str()), "{path} shows {id}: {text}");
        }
        assert!(!text.contains("foreign secret"), "{path}: {text}");
    }
    let sync = w.app.post("/api/contacts/sync", Some(&w.user.access), json!({ "phones": ["+919800000001"] })).await;
    assert!(!sync.body.to_string().contains(&f.astro.id.to_string()));

    // The foreign tenant's objects were not touched by any of it.
    let theirs = w.app.get(&format!("/api/conversations/{}/messages", f.conversation), &f.admin.access).await;
    let items = theirs.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["content"], json!("foreign secret"));
    assert_eq!(items[0]["reactions"], json!([]));
    let view = w.app.get(&format!("/api/conversations/{}", f.conversation), &f.user.access).await;
    assert_eq!(view.data()["isActive"], json!(true));
    let requests = w.app.get("/api/chat-requests", &f.astro.access).await;
    assert_eq!(requests.data()[0]["status"], json!("pending"), "{}", requests.body);
    let consultations = w.app.get("/api/consultations", &f.admin.access).await;
    assert_eq!(consultations.data()["items"][0]["status"], json!("active"), "{}", consultations.body);
}
