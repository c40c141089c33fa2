//! What the pages show and do: escaping, sending and closing from the
//! console, tenant isolation, the call history and its CSV.

use reqwest::{Method, header};
use samvad::domain::participant::ParticipantType;
use serde_json::json;

use super::Browser;
use crate::{
    helpers::{Login, TestApp, TestTenant},
    world::World,
};

const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";
const CERTIFICATE: &str = "5CFd2fd1755d40ecb72977518be15d3b";

#[tokio::test]
async fn what_participants_typed_is_shown_as_text() {
    let world = World::new().await;
    let conversation = world.open(&world.admin, &world.astro).await;
    world
        .send(&world.astro, &conversation, "<script>alert(1)</script>")
        .await;
    let browser = Browser::admin(&world.app, &world.tenant).await;

    let paths = [
        format!("/console/conversations/{conversation}"),
        format!("/console/conversations/{conversation}/messages?after=0"),
        "/console/conversations".to_owned(),
    ];
    for path in paths {
        let page = browser.get(&path).await;
        page.assert_status(200);
        assert!(
            !page.body.contains("<script>alert"),
            "{path}: {}",
            page.body
        );
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}: {}",
            page.body
        );
    }
    // The search box echoes what was typed, escaped.
    let page = browser
        .get("/console/conversations?q=%22%3E%3Cscript%3Ealert(2)%3C/script%3E")
        .await;
    page.assert_status(200);
    assert!(!page.body.contains("<script>alert(2)"), "{}", page.body);
}

#[tokio::test]
async fn the_console_sends_closes_and_reopens_like_the_api() {
    let world = World::new().await;
    let conversation = world.open(&world.admin, &world.astro).await;
    let browser = Browser::admin(&world.app, &world.tenant).await;
    let view = format!("/console/conversations/{conversation}");
    let csrf = browser.get(&view).await.csrf();

    let page = browser
        .post(
            &format!("{view}/messages"),
            &[
                ("_csrf", csrf.as_str()),
                ("content", "Hello from the console"),
            ],
        )
        .await;
    page.assert_redirect(&format!("{view}#compose"));
    let history = world.history(&world.astro, &conversation).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["content"], "Hello from the console");
    assert_eq!(history[0]["senderId"], json!(world.admin.id));
    assert!(
        browser
            .get(&view)
            .await
            .body
            .contains("Hello from the console")
    );

    // An empty message re-renders the form with the reason, sends nothing.
    let page = browser
        .post(
            &format!("{view}/messages"),
            &[("_csrf", csrf.as_str()), ("content", "")],
        )
        .await;
    page.assert_status(422);
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    assert_eq!(world.history(&world.astro, &conversation).await.len(), 1);

    for (active, expected) in [("false", false), ("true", true)] {
        browser
            .post(
                &format!("{view}/active"),
                &[("_csrf", csrf.as_str()), ("active", active)],
            )
            .await
            .assert_redirect(&view);
        let rest = world.conversation(&world.astro, &conversation).await;
        assert_eq!(rest["isActive"], json!(expected));
        let page = browser.get(&view).await;
        let button = if expected {
            "Close conversation"
        } else {
            "Reopen conversation"
        };
        assert!(page.body.contains(button), "{}", page.body);
    }
}

struct Other {
    tenant: TestTenant,
    admin: Login,
    conversation: String,
    call: String,
}

async fn other_tenant(app: &TestApp) -> Other {
    let tenant = app.tenant("globex").await;
    let admin = app.login_admin(&tenant).await;
    let astro = app
        .participant_login(&tenant, ParticipantType::Astrologer, "Bela Globex")
        .await;
    let conversation = app
        .post(
            "/api/conversations",
            Some(&admin.access),
            json!({ "participantId": astro.id }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/conversations/{conversation}/messages");
    app.post(
        &path,
        Some(&astro.access),
        json!({ "content": "globex secret" }),
    )
    .await
    .data();
    agora(app, &admin).await;
    let call = app
        .post(
            "/api/calls/initiate",
            Some(&admin.access),
            json!({ "calleeId": astro.id, "callType": "video" }),
        )
        .await
        .data()["callId"]
        .as_str()
        .unwrap()
        .to_owned();
    Other {
        tenant,
        admin,
        conversation,
        call,
    }
}

async fn agora(app: &TestApp, admin: &Login) {
    app.call(
        Method::PUT,
        "/api/settings/agora",
        Some(&admin.access),
        Some(json!({ "appId": APP_ID, "appCertificate": CERTIFICATE })),
    )
    .await
    .data();
    app.settings(
        admin,
        json!({ "callsPerParticipant": { "max": 1000, "perSeconds": 3600 } }),
    )
    .await;
}

#[tokio::test]
async fn an_admin_of_one_tenant_gets_404_for_another_tenants_conversation() {
    let world = World::new().await;
    let other = other_tenant(&world.app).await;
    let browser = Browser::admin(&world.app, &world.tenant).await;
    let csrf = browser.csrf().await;
    let view = format!("/console/conversations/{}", other.conversation);

    for path in [
        view.clone(),
        format!("{view}/events"),
        format!("{view}/messages?after=0"),
    ] {
        let page = browser.get(&path).await;
        page.assert_status(404);
        assert!(!page.body.contains("globex secret"), "{path}");
        assert!(page.body.contains(page.request_id()));
    }
    browser
        .post(
            &format!("{view}/messages"),
            &[("_csrf", csrf.as_str()), ("content", "across tenants")],
        )
        .await
        .assert_status(404);
    browser
        .post(
            &format!("{view}/active"),
            &[("_csrf", csrf.as_str()), ("active", "false")],
        )
        .await
        .assert_status(404);
    let list = browser.get("/console/conversations").await;
    assert!(!list.body.contains(&other.conversation));
    assert!(!list.body.contains("globex secret"));

    // Nothing changed on the other side.
    let theirs = world
        .app
        .get(
            &format!("/api/conversations/{}", other.conversation),
            &other.admin.access,
        )
        .await;
    assert_eq!(theirs.data()["isActive"], json!(true));
    let path = format!("/api/conversations/{}/messages?after=0", other.conversation);
    let items = world.app.get(&path, &other.admin.access).await;
    assert_eq!(items.data()["items"].as_array().unwrap().len(), 1);
    // The same pages open for B's own admin: the 404 is about the tenant.
    let b = Browser::admin(&world.app, &other.tenant).await;
    b.get(&view).await.assert_status(200);
}

#[tokio::test]
async fn the_call_history_and_its_csv_show_the_filtered_calls_of_the_tenant_only() {
    let world = World::new().await;
    agora(&world.app, &world.admin).await;
    let app = &world.app;
    let other = other_tenant(app).await;

    // An answered and ended call, and a rejected one.
    let initiate = |from: &Login, kind: &str| {
        let body = json!({ "calleeId": world.astro.id, "callType": kind });
        let token = from.access.clone();
        async move {
            app.post("/api/calls/initiate", Some(&token), body)
                .await
                .data()["callId"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let verb = |who: &Login, id: &str, verb: &str| {
        let (token, path) = (who.access.clone(), format!("/api/calls/{id}/{verb}"));
        async move {
            app.post(&path, Some(&token), json!({}))
                .await
                .data()
                .clone()
        }
    };
    let answered = initiate(&world.admin, "voice").await;
    verb(&world.astro, &answered, "accept").await;
    verb(&world.admin, &answered, "end").await;
    let rejected = initiate(&world.user, "video").await;
    verb(&world.astro, &rejected, "reject").await;

    let browser = Browser::admin(app, &world.tenant).await;
    let page = browser.get("/console/calls").await;
    page.assert_status(200);
    assert!(page.body.contains("2 calls on this page"), "{}", page.body);
    assert!(page.body.contains("Asha (astrologer)"), "{}", page.body);
    assert!(!page.body.contains("Bela Globex"), "{}", page.body);

    let page = browser
        .get("/console/calls?status=rejected&type=video")
        .await;
    page.assert_status(200);
    assert!(page.body.contains("1 calls on this page"), "{}", page.body);
    assert!(
        page.body
            .contains("href=\"/console/calls.csv?type=video&#38;status=rejected\""),
        "{}",
        page.body
    );

    let csv = browser.get("/console/calls.csv").await;
    csv.assert_status(200);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("calls.csv")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "id,caller,callee,type,status,started_utc,duration,end_reason"
    );
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(csv.body.contains(&answered) && csv.body.contains(&rejected));
    assert!(!csv.body.contains(&other.call), "{}", csv.body);

    let csv = browser.get("/console/calls.csv?status=rejected").await;
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(
        lines[1].starts_with(&format!(
            "\"{rejected}\",\"Uma (user)\",\"Asha (astrologer)\",\"video\",\"rejected\""
        )),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",\"\",\"rejected\""), "{}", lines[1]);

    let csv = browser
        .get(&format!(
            "/console/calls.csv?participant={}",
            world.admin.id
        ))
        .await;
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(
        lines[1].contains(&answered) && lines[1].contains("\"completed\""),
        "{}",
        lines[1]
    );

    // Tenant B's admin sees their call and not A's.
    let b = Browser::admin(app, &other.tenant).await;
    let csv = b.get("/console/calls.csv").await;
    assert_eq!(csv.body.lines().count(), 2, "{}", csv.body);
    assert!(csv.body.contains(&other.call) && !csv.body.contains(&answered));
}
