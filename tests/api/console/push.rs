//! Push notifications from the console: the FCM and APNs credentials on
//! the settings page (write-only), the broadcast form and the delivery log
//! on the notifications page, who may use them, CSRF, tenant isolation.

use std::time::Duration;

use samvad::domain::{TenantId, participant::ParticipantType};
use serde_json::json;

use super::{Admin, Browser};
use crate::{
    helpers::{
        PASSWORD, TestApp,
        push::{
            APNS_BUNDLE_ID, APNS_KEY_ID, APNS_TEAM_ID, CLIENT_EMAIL, FakeFcm, PROJECT_ID, keys,
        },
    },
    world::inbox_until,
};

const FCM: &str = "/console/settings/push/fcm";
const APNS: &str = "/console/settings/push/apns";
const BROADCAST: &str = "/console/notifications/broadcast";
const PAGE: &str = "/console/notifications";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Asserts that no piece of the PEM key `pem` is in `html`.
fn assert_no_key(html: &str, pem: &str) {
    assert!(!html.contains("PRIVATE KEY"), "a key's PEM is in the page");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for piece in body.split(|c: char| !c.is_ascii_alphanumeric()) {
        if piece.len() >= 12 {
            assert!(!html.contains(piece), "a piece of the key is in the page");
        }
    }
}

async fn broadcasts_stored(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM broadcasts")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn fcm_credentials_are_set_shown_without_their_key_and_removed() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let status = || app.core.push_status(TenantId(tenant.id));
    let pem = keys().service_account_pem();

    // Not a service account: the form says so and nothing is stored.
    let page = admin
        .post(FCM, &[("service_account", "{\"type\": 1")])
        .await;
    page.assert_status(422);
    assert!(
        page.body.contains("not a service-account JSON"),
        "{}",
        page.body
    );
    assert!(status().await.unwrap().fcm.is_none());

    let json = keys().service_account_json(GOOGLE_TOKEN_URI);
    let page = admin.post(FCM, &[("service_account", &json)]).await;
    page.assert_redirect("/console/settings?done=fcm-set#push");
    let page = admin.get("/console/settings?done=fcm-set").await;
    page.assert_status(200);
    assert!(page.body.contains("FCM credentials saved."));
    assert!(page.body.contains(PROJECT_ID) && page.body.contains(CLIENT_EMAIL));
    assert_no_key(&page.body, pem);
    assert!(!page.body.contains(keys().service_account_key_id()));
    assert_eq!(status().await.unwrap().fcm.unwrap().project_id, PROJECT_ID);

    // A bad one later leaves the good one in place, and shows none of it.
    let broken = json.replace("BEGIN PRIVATE KEY", "BEGIN NOTHING");
    let page = admin.post(FCM, &[("service_account", &broken)]).await;
    page.assert_status(422);
    assert!(
        page.body.contains("not an RSA private key"),
        "{}",
        page.body
    );
    assert_no_key(&page.body, pem);
    assert!(status().await.unwrap().fcm.is_some());

    let page = admin.post(&format!("{FCM}/clear"), &[]).await;
    page.assert_redirect("/console/settings?done=fcm-cleared#push");
    assert!(status().await.unwrap().fcm.is_none());
    let page = admin.get("/console/settings").await;
    assert!(!page.body.contains(PROJECT_ID));
    assert!(page.body.contains("Not configured: Android"));
}

#[tokio::test]
async fn an_apns_key_is_set_shown_without_the_key_and_removed() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let status = || app.core.push_status(TenantId(tenant.id));
    let p8 = keys().apns_p8();
    let form = |team: &'static str, environment: &'static str, key: &'static str| {
        let key = if key.is_empty() { p8.as_str() } else { key };
        [
            ("team_id", team),
            ("key_id", APNS_KEY_ID),
            ("bundle_id", APNS_BUNDLE_ID),
            ("environment", environment),
            ("key", key),
        ]
    };

    // Problems: the ids come back to be corrected, the key never does.
    let page = admin.post(APNS, &form("SHORT", "sandbox", "")).await;
    page.assert_status(422);
    assert!(page.body.contains("10-character ids"), "{}", page.body);
    assert!(page.body.contains(&format!("value=\"{APNS_BUNDLE_ID}\"")));
    assert_no_key(&page.body, &p8);
    let page = admin
        .post(APNS, &form(APNS_TEAM_ID, "sandbox", "not a key"))
        .await;
    page.assert_status(422);
    assert!(page.body.contains("the .p8 file"), "{}", page.body);
    let page = admin.post(APNS, &form(APNS_TEAM_ID, "staging", "")).await;
    page.assert_status(422);
    assert!(page.body.contains("production or sandbox"), "{}", page.body);
    assert!(status().await.unwrap().apns.is_none());

    let page = admin.post(APNS, &form(APNS_TEAM_ID, "sandbox", "")).await;
    page.assert_redirect("/console/settings?done=apns-set#push");
    let page = admin.get("/console/settings").await;
    for shown in [
        APNS_TEAM_ID,
        APNS_KEY_ID,
        APNS_BUNDLE_ID,
        "<dd>sandbox</dd>",
    ] {
        assert!(page.body.contains(shown), "{shown} is not shown");
    }
    assert_no_key(&page.body, &p8);
    let apns = status().await.unwrap().apns.unwrap();
    assert_eq!(apns.team_id, APNS_TEAM_ID);
    assert_eq!(apns.environment.as_str(), "sandbox");

    let page = admin.post(&format!("{APNS}/clear"), &[]).await;
    page.assert_redirect("/console/settings?done=apns-cleared#push");
    assert!(status().await.unwrap().apns.is_none());
    let page = admin
        .post("/console/settings/push/webpush/clear", &[])
        .await;
    page.assert_status(404);
}

#[tokio::test]
async fn a_broadcast_from_the_form_lands_in_the_participants_inbox() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let other = app.tenant("globex").await;
    let (stranger, _) = app.participant(&other, ParticipantType::User, "Sam").await;
    let uma = app
        .participant_login(&tenant, ParticipantType::User, "Uma")
        .await;
    let admin = Admin::new(&app, &tenant).await;
    let uma_id = uma.id.to_string();
    let to_uma = |body: &'static str| {
        [
            ("audience", "participant"),
            ("participant", uma_id.as_str()),
            ("title", "Maintenance"),
            ("body", body),
        ]
    };

    let page = admin.post(BROADCAST, &to_uma("Back at six")).await;
    page.assert_redirect("/console/notifications?done=sent");

    let arrived = |items: &[serde_json::Value]| items.iter().any(|i| i["body"] == "Back at six");
    let items = inbox_until(&app, &uma, arrived).await;
    let entry = items.iter().find(|i| i["body"] == "Back at six").unwrap();
    assert_eq!(
        (entry["type"].as_str(), entry["title"].as_str()),
        (Some("broadcast"), Some("Maintenance"))
    );
    let page = admin.get("/console/notifications?done=sent").await;
    page.assert_status(200);
    assert!(page.body.contains("Broadcast sent"));
    assert!(page.body.contains("Back at six") && page.body.contains(">Uma</a>"));

    // Problems stay in the form, with what was typed.
    let page = admin.post(BROADCAST, &to_uma("   ")).await;
    page.assert_status(422);
    assert!(
        page.body.contains("body must be 1-255 characters"),
        "{}",
        page.body
    );
    let stranger = stranger.to_string();
    for (id, says) in [
        ("", "enter the participant"),
        ("nope", "is not an id"),
        (&stranger, "No participant of this tenant has that id."),
    ] {
        let form = [
            ("audience", "participant"),
            ("participant", id),
            ("body", "Hello there"),
        ];
        let page = admin.post(BROADCAST, &form).await;
        page.assert_status(422);
        assert!(page.body.contains(says), "{says}: {}", page.body);
        assert!(page.body.contains(">Hello there</textarea>"));
    }
    let page = admin
        .post(BROADCAST, &[("audience", "everyone"), ("body", "x")])
        .await;
    page.assert_status(422);
    assert_eq!(broadcasts_stored(&app).await, 1);
}

#[tokio::test]
async fn the_push_forms_need_an_admin_session_and_the_csrf_token() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let astro = app
        .participant_login(&tenant, ParticipantType::Astrologer, "Asha")
        .await;
    let admin = Admin::new(&app, &tenant).await;
    let json = keys().service_account_json(GOOGLE_TOKEN_URI);
    let id = astro.id.to_string();
    let forms: [(&str, Vec<(&str, &str)>); 4] = [
        (FCM, vec![("service_account", &json)]),
        ("/console/settings/push/fcm/clear", vec![]),
        ("/console/settings/push/apns/clear", vec![]),
        (
            BROADCAST,
            vec![
                ("audience", "participant"),
                ("participant", &id),
                ("body", "Forged"),
            ],
        ),
    ];

    // An astrologer gets no console session; their API token opens nothing.
    let mut outsider = Browser::new(&app);
    let email = format!("asha@{}.test", tenant.slug);
    let page = outsider.login(&tenant.slug, &email, PASSWORD).await;
    page.assert_status(401);
    outsider.cookie = Some(astro.access.clone());
    let to_login = "/console/login?next=/console/notifications";
    outsider.get(PAGE).await.assert_redirect(to_login);
    Browser::new(&app).get(PAGE).await.assert_redirect(to_login);
    for (path, form) in &forms {
        outsider
            .post(path, form)
            .await
            .assert_redirect("/console/login");
        // The admin's own session, without the token or with a wrong one.
        admin.browser.post(path, form).await.assert_status(403);
        let mut wrong = form.clone();
        wrong.push(("_csrf", "not-the-token"));
        admin.browser.post(path, &wrong).await.assert_status(403);
    }

    assert!(
        app.core
            .push_status(TenantId(tenant.id))
            .await
            .unwrap()
            .fcm
            .is_none()
    );
    assert_eq!(broadcasts_stored(&app).await, 0);
    let inbox = app.get("/api/notifications", &astro.access).await;
    assert_eq!(inbox.data()["items"], json!([]));
}

#[tokio::test]
async fn each_part_of_the_notifications_page_needs_its_own_permission() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let revoke = |object: &'static str, action: &'static str| {
        let rule = [("role", "admin"), ("object", object), ("action", action)];
        let admin = &admin;
        async move {
            let page = admin.post("/console/policies/remove", &rule).await;
            page.assert_redirect("/console/policies?done=removed");
        }
    };
    let page = admin.get(PAGE).await;
    page.assert_status(200);
    assert!(page.body.contains(BROADCAST) && page.body.contains("Push deliveries"));
    assert!(
        page.body.contains("href=\"/console/notifications\""),
        "not in the nav"
    );

    // Without `participants write`: the log, but no form, and no sending.
    revoke("participants", "write").await;
    let page = admin.get(PAGE).await;
    page.assert_status(200);
    assert!(!page.body.contains(BROADCAST) && page.body.contains("Push deliveries"));
    let form = [("audience", "users"), ("body", "Sneaky")];
    admin.post(BROADCAST, &form).await.assert_status(403);
    assert_eq!(broadcasts_stored(&app).await, 0);

    // Without `settings read` as well: nothing to show.
    revoke("settings", "read").await;
    admin.get(PAGE).await.assert_status(403);
}

#[tokio::test]
async fn deliveries_are_logged_for_their_tenant_only_with_failures_marked() {
    let fcm = FakeFcm::start().await;
    let app = TestApp::spawn_with(|config| {
        config.push.fcm_url = Some(fcm.base().to_owned());
        config.push.grace = Duration::ZERO;
    })
    .await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let json = keys().service_account_json(&fcm.token_uri());
    let page = admin.post(FCM, &[("service_account", &json)]).await;
    page.assert_redirect("/console/settings?done=fcm-set#push");
    // Two users with a phone each; Ravi's token is dead.
    for (name, token) in [
        ("Uma", "fcm-token-uma-0123456789"),
        ("Ravi", "fcm-token-ravi-0123456789"),
    ] {
        let who = app
            .participant_login(&tenant, ParticipantType::User, name)
            .await;
        let device = json!({ "platform": "fcm", "token": token, "appId": "app.acme" });
        app.post("/api/devices", Some(&who.access), device)
            .await
            .data();
    }
    fcm.unregistered("fcm-token-ravi-0123456789");

    let page = admin
        .post(
            BROADCAST,
            &[("audience", "users"), ("body", "Festival offer")],
        )
        .await;
    page.assert_redirect("/console/notifications?done=sent");
    fcm.wait_for(1, Duration::from_secs(10)).await;

    // The log shows both, once the worker has marked them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page = admin.get(PAGE).await;
        page.assert_status(200);
        if page.body.contains(">sent</span>") && page.body.contains("✗ failed") {
            break page;
        }
        let waiting = tokio::time::Instant::now() < deadline;
        assert!(waiting, "the log never showed both: {}", page.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(page.body.contains(">Uma</a>") && page.body.contains(">Ravi</a>"));
    assert!(page.body.contains("<td>200</td>") && page.body.contains("bad_token"));
    assert!(page.body.contains("<tr class=\"failed\">"));
    let failed = admin.get("/console/notifications?state=failed").await;
    assert!(failed.body.contains(">Ravi</a>") && !failed.body.contains(">Uma</a>"));
    admin
        .get("/console/notifications?state=lost")
        .await
        .assert_status(422);

    // Another tenant's admin sees none of it.
    let globex = app.tenant("globex").await;
    let page = Admin::new(&app, &globex).await.get(PAGE).await;
    page.assert_status(200);
    assert!(page.body.contains("No deliveries"));
    assert!(!page.body.contains("Uma") && !page.body.contains("Festival offer"));
}
