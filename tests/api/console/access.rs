//! Signing in and out, who may not, CSRF, and the error page.

use reqwest::header;
use serde_json::json;

use super::Browser;
use crate::{
    helpers::{PASSWORD, TestApp},
    world::World,
};

#[tokio::test]
async fn the_login_page_renders_and_pages_need_a_session() {
    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);

    let page = browser.get("/console/login").await;
    page.assert_status(200);
    for field in ["name=\"tenant\"", "name=\"email\"", "name=\"password\""] {
        assert!(page.body.contains(field), "{field} missing: {}", page.body);
    }
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");

    for path in ["/console", "/console/conversations", "/console/calls"] {
        browser
            .get(path)
            .await
            .assert_redirect(&format!("/console/login?next={path}"));
    }
    browser
        .get("/console/calls.csv")
        .await
        .assert_redirect("/console/login?next=/console/calls.csv");
    // A state-changing request without a session goes to the plain login.
    browser
        .post("/console/logout", &[("_csrf", "x")])
        .await
        .assert_redirect("/console/login");
    // The assets are public.
    let css = browser.get("/console/static/console.css").await;
    css.assert_status(200);
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css");
}

#[tokio::test]
async fn an_admin_signs_in_with_a_strict_cookie_and_follows_next() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let mut browser = Browser::new(&app);

    let page = browser
        .post(
            "/console/login",
            &[
                ("tenant", tenant.slug.as_str()),
                ("email", tenant.admin_email.as_str()),
                ("password", PASSWORD),
                ("next", "/console/calls"),
            ],
        )
        .await;
    page.assert_redirect("/console/calls");
    let set = page.headers[header::SET_COOKIE].to_str().unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(part), "{part} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP gets no Secure: {set}");
    browser.cookie = page.cookie();

    let dashboard = browser.get("/console").await;
    dashboard.assert_status(200);
    assert!(dashboard.body.contains("Dashboard"), "{}", dashboard.body);
    // Only console paths are followed after signing in.
    let mut other = Browser::new(&app);
    let page = other
        .post(
            "/console/login",
            &[
                ("tenant", tenant.slug.as_str()),
                ("email", tenant.admin_email.as_str()),
                ("password", PASSWORD),
                ("next", "https://evil.test/"),
            ],
        )
        .await;
    page.assert_redirect("/console");
    other.cookie = page.cookie();
    other.get("/console/calls").await.assert_status(200);
}

#[tokio::test]
async fn wrong_passwords_and_non_admins_are_refused() {
    let world = World::new().await;
    let app = &world.app;
    let mut browser = Browser::new(app);

    let page = browser
        .login(
            &world.tenant.slug,
            &world.tenant.admin_email,
            "wrong-password",
        )
        .await;
    page.assert_status(401);
    assert!(page.cookie().is_none());
    assert!(
        page.body.contains("Those details do not match"),
        "{}",
        page.body
    );
    // The form keeps what was typed (escaped), never the password.
    assert!(page.body.contains(&world.tenant.admin_email));
    assert!(!page.body.contains("wrong-password"));

    for name in ["Uma", "Asha"] {
        let email = format!("{}@{}.test", name.to_lowercase(), world.tenant.slug);
        let page = browser.login(&world.tenant.slug, &email, PASSWORD).await;
        page.assert_status(401);
        assert!(page.cookie().is_none(), "{name} got a console cookie");
        assert!(
            page.body.contains("The console is for the tenant"),
            "{}",
            page.body
        );
    }
    // The session opened for the check was ended at once.
    let sessions = app.get("/api/auth/sessions", &world.user.access).await;
    assert_eq!(sessions.data().as_array().unwrap().len(), 1);

    // A user's API token in the cookie does not open the console either.
    browser.cookie = Some(world.user.access.clone());
    browser
        .get("/console")
        .await
        .assert_redirect("/console/login?next=/console");
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_revokes_the_session() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let browser = Browser::admin(&app, &tenant).await;
    let csrf = browser.csrf().await;
    let token = browser.cookie.clone().unwrap();

    for form in [vec![], vec![("_csrf", "forged")]] {
        let page = browser.post("/console/logout", &form).await;
        page.assert_status(403);
        assert!(page.body.contains("This form has expired"), "{}", page.body);
        assert!(page.body.contains(page.request_id()));
    }
    browser.get("/console").await.assert_status(200);

    let page = browser
        .post("/console/logout", &[("_csrf", csrf.as_str())])
        .await;
    page.assert_redirect("/console/login");
    let cleared = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("samvad_console=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // The old cookie no longer works: its session is revoked, not just forgotten.
    browser
        .get("/console")
        .await
        .assert_redirect("/console/login?next=/console");
    app.get("/api/auth/me", &token)
        .await
        .assert_error(401, "session_revoked");
}

#[tokio::test]
async fn state_changes_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let world = World::new().await;
    let conversation = world.open(&world.admin, &world.astro).await;
    let browser = Browser::admin(&world.app, &world.tenant).await;
    let send = format!("/console/conversations/{conversation}/messages");
    let active = format!("/console/conversations/{conversation}/active");

    for csrf in [None, Some("forged"), Some("")] {
        let mut form = vec![("content", "should not be sent")];
        if let Some(csrf) = csrf {
            form.push(("_csrf", csrf));
        }
        browser.post(&send, &form).await.assert_status(403);
        form[0] = ("active", "false");
        browser.post(&active, &form).await.assert_status(403);
    }
    // Another admin session's token is not this session's.
    let other = Browser::admin(&world.app, &world.tenant).await;
    let theirs = other.csrf().await;
    assert_ne!(theirs, browser.csrf().await);
    browser
        .post(&send, &[("_csrf", theirs.as_str()), ("content", "nope")])
        .await
        .assert_status(403);

    assert!(world.history(&world.admin, &conversation).await.is_empty());
    let view = world.conversation(&world.admin, &conversation).await;
    assert_eq!(view["isActive"], json!(true));
}

#[tokio::test]
async fn errors_render_a_friendly_page_with_the_request_id() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let browser = Browser::admin(&app, &tenant).await;

    for path in [
        "/console/conversations/not-a-uuid".to_owned(),
        format!("/console/conversations/{}", uuid::Uuid::now_v7()),
    ] {
        let page = browser.get(&path).await;
        page.assert_status(404);
        assert!(
            page.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.body.contains("Not found"), "{}", page.body);
        assert!(page.body.contains(page.request_id()), "{}", page.body);
        for leak in ["panicked", "backtrace", "sqlx", "src/"] {
            assert!(!page.body.contains(leak), "{leak}: {}", page.body);
        }
    }
    // Bad filters are a 4xx page too, not a 500.
    let page = browser.get("/console/calls?from=yesterday").await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert!(page.body.contains("from must be a date"), "{}", page.body);
    let page = browser.get("/console/conversations?type=bogus").await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert!(page.body.contains(page.request_id()));
}

/// Tenant B's cast: an admin and an astrologer in a conversation, one call.
#[tokio::test]
async fn the_superadmin_signs_in_without_a_tenant() {
    let app = TestApp::spawn().await;
    app.superadmin().await;
    let mut browser = Browser::new(&app);
    browser
        .login("", "root@platform.test", PASSWORD)
        .await
        .assert_redirect("/console");
    browser
        .get("/console")
        .await
        .assert_redirect("/console/tenants");
}
