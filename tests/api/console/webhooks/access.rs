//! Who may use the webhook pages: no user, astrologer or stranger, no
//! form without the session's CSRF token, no other tenant's admin (a 404,
//! as for an endpoint that does not exist), and `settings` read to view,
//! write to change.

use samvad::domain::participant::ParticipantType;

use super::{Admin, HOOK_URL, LIST, delivery_state, enabled, endpoint_ids, failed_delivery};
use crate::{
    console::Browser,
    helpers::{PASSWORD, TestApp},
};

#[tokio::test]
async fn the_webhook_pages_need_an_admin_session_and_the_csrf_token() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let (id, _) = admin.add(&app, HOOK_URL, &["message.created"]).await;
    let delivery = failed_delivery(&app, &tenant, id).await;
    let page_path = format!("{LIST}/{id}");
    let posts: [(String, Vec<(&str, &str)>); 5] = [
        (
            LIST.to_owned(),
            vec![
                ("url", "https://other.example/h"),
                ("event_types", "call.ended"),
            ],
        ),
        (format!("{page_path}/enabled"), vec![("enabled", "false")]),
        (format!("{page_path}/secret"), vec![]),
        (format!("{page_path}/delete"), vec![]),
        (format!("{page_path}/deliveries/{delivery}/resend"), vec![]),
    ];

    // Users and astrologers get no console session; their API token opens nothing.
    for (kind, name) in [
        (ParticipantType::User, "Uma"),
        (ParticipantType::Astrologer, "Asha"),
    ] {
        let who = app.participant_login(&tenant, kind, name).await;
        let mut outsider = Browser::new(&app);
        let email = format!("{}@{}.test", name.to_lowercase(), tenant.slug);
        outsider
            .login(&tenant.slug, &email, PASSWORD)
            .await
            .assert_status(401);
        outsider.cookie = Some(who.access.clone());
        for page in [LIST, page_path.as_str()] {
            let page_now = outsider.get(page).await;
            page_now.assert_redirect(&format!("/console/login?next={page}"));
        }
        for (path, form) in &posts {
            outsider
                .post(path, form)
                .await
                .assert_redirect("/console/login");
        }
    }
    Browser::new(&app)
        .get(LIST)
        .await
        .assert_redirect("/console/login?next=/console/webhooks");

    // The admin's own session, without the token or with a wrong one.
    for (path, form) in &posts {
        admin.browser.post(path, form).await.assert_status(403);
        let mut wrong = form.clone();
        wrong.push(("_csrf", "not-the-token"));
        admin.browser.post(path, &wrong).await.assert_status(403);
    }

    assert_eq!(endpoint_ids(&app).await, vec![id]);
    assert!(enabled(&app, id).await);
    assert_eq!(delivery_state(&app, delivery).await, "failed");
    assert!(!admin.get(LIST).await.body.contains("other.example"));
}

#[tokio::test]
async fn another_tenants_admin_finds_no_endpoint_of_ours() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (id, _) = Admin::new(&app, &acme)
        .await
        .add(&app, HOOK_URL, &["message.created"])
        .await;
    let delivery = failed_delivery(&app, &acme, id).await;
    let stranger = Admin::new(&app, &globex).await;
    let page_path = format!("{LIST}/{id}");

    let page = stranger.get(LIST).await;
    page.assert_status(200);
    assert!(page.body.contains("No endpoints yet.") && !page.body.contains(HOOK_URL));
    stranger.get(&page_path).await.assert_status(404);
    for (path, form) in [
        (format!("{page_path}/enabled"), vec![("enabled", "false")]),
        (format!("{page_path}/secret"), vec![]),
        (format!("{page_path}/delete"), vec![]),
        (format!("{page_path}/deliveries/{delivery}/resend"), vec![]),
    ] {
        let page = stranger.post(&path, &form).await;
        page.assert_status(404);
        assert!(!page.body.contains("whsec_"));
    }

    assert_eq!(endpoint_ids(&app).await, vec![id]);
    assert!(enabled(&app, id).await);
    assert_eq!(delivery_state(&app, delivery).await, "failed");
}

#[tokio::test]
async fn settings_read_shows_the_pages_and_settings_write_changes_them() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let (id, _) = admin.add(&app, HOOK_URL, &["message.created"]).await;
    let page_path = format!("{LIST}/{id}");
    let revoke = |action: &'static str| {
        let rule = [
            ("role", "admin"),
            ("object", "settings"),
            ("action", action),
        ];
        let admin = &admin;
        async move {
            let page = admin.post("/console/policies/remove", &rule).await;
            page.assert_redirect("/console/policies?done=removed");
        }
    };

    // Without `settings write`: the pages, but no forms, and no changes.
    revoke("write").await;
    let page = admin.get(LIST).await;
    page.assert_status(200);
    assert!(page.body.contains(HOOK_URL));
    assert!(
        !page.body.contains("action=\"/console/webhooks"),
        "{}",
        page.body
    );
    let page = admin.get(&page_path).await;
    page.assert_status(200);
    assert!(
        !page.body.contains("action=\"/console/webhooks"),
        "{}",
        page.body
    );
    let form = [
        ("url", "https://other.example/h"),
        ("event_types", "call.ended"),
    ];
    admin.post(LIST, &form).await.assert_status(403);
    let page = admin
        .post(&format!("{page_path}/enabled"), &[("enabled", "false")])
        .await;
    page.assert_status(403);
    admin
        .post(&format!("{page_path}/secret"), &[])
        .await
        .assert_status(403);
    admin
        .post(&format!("{page_path}/delete"), &[])
        .await
        .assert_status(403);
    assert_eq!(endpoint_ids(&app).await, vec![id]);
    assert!(enabled(&app, id).await);

    // Without `settings read` as well: nothing to see.
    revoke("read").await;
    admin.get(LIST).await.assert_status(403);
    admin.get(&page_path).await.assert_status(403);
}
