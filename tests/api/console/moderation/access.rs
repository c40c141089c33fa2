//! Who may use the moderation pages: no user, astrologer or stranger, no
//! form without the session's CSRF token, no other tenant's admin (a 404,
//! as for a report that does not exist), and `participants write` for the
//! pages, `settings` read and write for the guard's rules.

use serde_json::json;

use super::{Admin, QUEUE, blocked, report_of, reported_message};
use crate::{
    console::Browser,
    helpers::{PASSWORD, TestApp},
    world::World,
};

/// The guard form, switching the guard to block.
const GUARD_FORM: [(&str, &str); 2] = [("mode", "block"), ("phones", "on")];

#[tokio::test]
async fn the_moderation_pages_need_an_admin_session_and_the_csrf_token() {
    let world = World::new().await;
    let r = reported_message(&world).await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let page_path = r.page();
    let guard = format!("{QUEUE}/guard");
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (r.action("dismiss"), vec![]),
        (r.action("block-participant"), vec![]),
        (r.action("delete-message"), vec![]),
        (guard, GUARD_FORM.to_vec()),
    ];

    // Users and astrologers get no console session; their API token opens nothing.
    for (who, name) in [(&world.user, "Uma"), (&world.astro, "Asha")] {
        let mut outsider = Browser::new(&world.app);
        let email = format!("{}@{}.test", name.to_lowercase(), world.tenant.slug);
        outsider
            .login(&world.tenant.slug, &email, PASSWORD)
            .await
            .assert_status(401);
        outsider.cookie = Some(who.access.clone());
        for page in [QUEUE, page_path.as_str()] {
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
    Browser::new(&world.app)
        .get(&page_path)
        .await
        .assert_redirect(&format!("/console/login?next={page_path}"));

    // The admin's own session, without the token or with a wrong one.
    for (path, form) in &posts {
        admin.browser.post(path, form).await.assert_status(403);
        let mut wrong = form.clone();
        wrong.push(("_csrf", "not-the-token"));
        admin.browser.post(path, &wrong).await.assert_status(403);
    }

    assert_eq!(report_of(&world, &r.report).await["status"], json!("open"));
    assert!(!blocked(&world, &world.astro).await);
    let history = world.history(&world.user, &r.conversation).await;
    assert!(history.iter().all(|m| m["isDeleted"] == json!(false)));
    let settings = world.app.get("/api/settings", &world.admin.access).await;
    assert_eq!(settings.data()["contactGuard"]["mode"], json!("off"));
}

#[tokio::test]
async fn another_tenants_admin_finds_no_report_of_ours() {
    let world = World::new().await;
    let r = reported_message(&world).await;
    let globex = world.app.tenant("globex").await;
    let stranger = Admin::new(&world.app, &globex).await;

    let page = stranger.get(QUEUE).await;
    page.assert_status(200);
    assert!(page.body.contains("No open reports.") && !page.body.contains(&r.report));
    let page = stranger.get(&format!("{QUEUE}?status=all")).await;
    assert!(!page.body.contains(&r.report));
    let page = stranger.get(&r.page()).await;
    page.assert_status(404);
    assert!(!page.body.contains("you fool"));
    for action in ["dismiss", "block-participant", "delete-message"] {
        let page = stranger.post(&r.action(action), &[]).await;
        page.assert_status(404);
        assert!(!page.body.contains("you fool"), "{action}");
    }
    // An id that is not one is as unknown.
    stranger
        .get(&format!("{QUEUE}/reports/not-an-id"))
        .await
        .assert_status(404);

    // Their guard is theirs.
    stranger
        .post(&format!("{QUEUE}/guard"), &GUARD_FORM)
        .await
        .assert_redirect("/console/moderation?done=guard-saved#guard");
    let settings = world.app.get("/api/settings", &world.admin.access).await;
    assert_eq!(settings.data()["contactGuard"]["mode"], json!("off"));

    assert_eq!(report_of(&world, &r.report).await["status"], json!("open"));
    assert!(!blocked(&world, &world.astro).await);
    let history = world.history(&world.user, &r.conversation).await;
    assert!(history.iter().all(|m| m["isDeleted"] == json!(false)));
}

#[tokio::test]
async fn the_superadmin_has_no_moderation_page() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    app.superadmin().await;
    let mut root = Browser::new(&app);
    root.login("", "root@platform.test", PASSWORD)
        .await
        .assert_status(303);
    let page = root.get(QUEUE).await;
    page.assert_status(403);
    assert!(!page.body.contains(&tenant.slug));
}

#[tokio::test]
async fn participants_write_opens_the_pages_and_settings_write_the_guard_form() {
    let world = World::new().await;
    let r = reported_message(&world).await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let guard = format!("{QUEUE}/guard");
    let revoke = async |object: &str, action: &str| {
        let rule = [("role", "admin"), ("object", object), ("action", action)];
        let page = admin.post("/console/policies/remove", &rule).await;
        page.assert_redirect("/console/policies?done=removed");
    };

    // Without `settings write`: the guard's rules, read only.
    revoke("settings", "write").await;
    let page = admin.get(QUEUE).await;
    page.assert_status(200);
    assert!(page.body.contains(&r.page()));
    assert!(!page.body.contains(&format!("action=\"{guard}\"")));
    assert!(
        page.body.contains("<dt>Mode</dt><dd>off</dd>"),
        "{}",
        page.body
    );
    admin.post(&guard, &GUARD_FORM).await.assert_status(403);

    // Without `settings read` too: no rules at all, the reports still.
    revoke("settings", "read").await;
    let page = admin.get(QUEUE).await;
    page.assert_status(200);
    assert!(page.body.contains(&r.page()) && !page.body.contains("<dt>Mode</dt>"));

    // Without `participants write`: nothing.
    revoke("participants", "write").await;
    admin.get(QUEUE).await.assert_status(403);
    admin.get(&r.page()).await.assert_status(403);
    admin
        .post(&r.action("dismiss"), &[])
        .await
        .assert_status(403);
    let status: String =
        sqlx::query_scalar("SELECT CAST(status AS CHAR) FROM reports WHERE id = ?")
            .bind(r.report.parse::<uuid::Uuid>().unwrap())
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(status, "open");
}
