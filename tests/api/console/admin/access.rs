//! Who may see which administration page: a session for every page, the
//! CSRF token for every form, tenants for the superadmin only.

use samvad::domain::{TenantId, participant::ParticipantType};

use super::FormBrowser;
use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn every_admin_page_renders_for_an_admin_and_needs_a_session() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = FormBrowser::admin(&app, &tenant).await;
    let anonymous = FormBrowser::new(&app);

    for path in [
        "/console/participants",
        format!("/console/participants/{}", tenant.admin_id).as_str(),
        "/console/policies",
        "/console/policies/check?role=user&action=read&object=directory",
        "/console/settings",
        "/console/audit",
    ] {
        let page = admin.get(path).await;
        page.assert(200);
        for nav in ["Participants", "Policies", "Settings", "Audit"] {
            assert!(page.body.contains(nav), "{path} has no {nav} link");
        }
        anonymous.get(path).await.assert_redirect("/console/login");
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (uma, _) = app.participant(&tenant, ParticipantType::User, "Uma").await;
    let admin = FormBrowser::admin(&app, &tenant).await;

    let forged = [
        (
            "/console/participants".to_owned(),
            vec![("type", "user"), ("name", "Forged")],
        ),
        (
            format!("/console/participants/{uma}/block"),
            vec![("blocked", "true")],
        ),
        (
            "/console/policies".to_owned(),
            vec![("role", "user"), ("object", "audit"), ("action", "read")],
        ),
        (
            "/console/settings/api-keys".to_owned(),
            vec![("name", "Forged"), ("scopes", "admin")],
        ),
    ];
    for (path, form) in &forged {
        admin.post_bare(path, form).await.assert(403);
        let mut wrong = form.clone();
        wrong.push(("_csrf", "not-the-token"));
        admin.post_bare(path, &wrong).await.assert(403);
    }

    let tenant_id = TenantId(tenant.id);
    let uma = app
        .core
        .participant(tenant_id, samvad::domain::ParticipantId(uma))
        .await
        .unwrap();
    assert!(!uma.blocked);
    assert!(app.core.api_keys(tenant_id).await.unwrap().is_empty());
    let listed = admin.get("/console/participants?q=Forged").await;
    assert!(listed.body.contains("No participants match."));
}

#[tokio::test]
async fn the_superadmin_manages_tenants_and_admins_do_not() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    app.superadmin().await;
    let root = FormBrowser::signed_in(&app, "", "root@platform.test").await;
    let admin = FormBrowser::admin(&app, &acme).await;

    // Each sees only their own pages.
    root.get("/console/tenants").await.assert(200);
    for path in [
        "/console/participants",
        "/console/policies",
        "/console/settings",
        "/console/audit",
    ] {
        root.get(path).await.assert(403);
    }
    admin.get("/console/tenants").await.assert(403);
    admin
        .post(
            "/console/tenants",
            &[
                ("slug", "sneaky"),
                ("name", "S"),
                ("admin_email", "a@s.test"),
                ("admin_password", PASSWORD),
            ],
        )
        .await
        .assert(403);

    // Create, with a problem first; then suspend and resume.
    let form = [
        ("slug", "beta"),
        ("name", "Beta <Brand>"),
        ("admin_email", "boss@beta.test"),
        ("admin_password", PASSWORD),
    ];
    root.post(
        "/console/tenants",
        &[
            ("slug", "Not A Slug"),
            ("name", "x"),
            ("admin_email", "a@b.test"),
            ("admin_password", PASSWORD),
        ],
    )
    .await
    .assert(422);
    root.post("/console/tenants", &form)
        .await
        .assert_redirect("/console/tenants?done=created");
    root.post("/console/tenants", &form).await.assert(422);
    let page = root.get("/console/tenants").await;
    assert!(page.body.contains("Beta &#60;Brand&#62;"));
    let beta = app.core.tenant_by_slug("beta").await.unwrap().unwrap();
    FormBrowser::signed_in(&app, "beta", "boss@beta.test").await;
    root.post(
        &format!("/console/tenants/{}/status", beta.id.0),
        &[("status", "suspended")],
    )
    .await
    .assert_redirect("/console/tenants?done=suspended");
    assert!(
        root.get("/console/tenants")
            .await
            .body
            .contains("suspended")
    );
    root.post(
        &format!("/console/tenants/{}/status", beta.id.0),
        &[("status", "active")],
    )
    .await
    .assert_redirect("/console/tenants?done=resumed");
    root.post(
        &format!("/console/tenants/{}/status", uuid::Uuid::nil()),
        &[("status", "active")],
    )
    .await
    .assert(404);
}

#[tokio::test]
async fn the_superadmin_sees_each_tenants_storage_in_the_tenant_list() {
    let world = crate::world::World::new().await;
    crate::files::upload(
        &world,
        &world.user,
        "a.bin",
        crate::files::random_bytes(300 * 1024),
    )
    .await;
    world.app.superadmin().await;
    let root = FormBrowser::signed_in(&world.app, "", "root@platform.test").await;

    let page = root.get("/console/tenants").await;

    page.assert(200);
    assert!(page.body.contains("Storage used"), "{}", page.body);
    assert!(page.body.contains("300.0 KB"), "{}", page.body);
}
