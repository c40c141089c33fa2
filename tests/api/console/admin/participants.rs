//! Participants in the console: names shown as text, another tenant's
//! participant a 404, form errors re-rendered, editing, blocking, password
//! resets and ending sessions (and the audit log of it).

use samvad::domain::{TenantId, participant::ParticipantType};

use super::FormBrowser;
use crate::helpers::TestApp;

#[tokio::test]
async fn a_participant_named_like_a_script_is_shown_as_text() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = FormBrowser::admin(&app, &tenant).await;
    let name = "<script>alert(1)</script>";

    let created = admin
        .post(
            "/console/participants",
            &[("type", "user"), ("name", name), ("email", "s@acme.test")],
        )
        .await;
    created.assert_redirect("/console/participants/");
    let page = admin.get(&created.location).await;
    page.assert(200);
    assert!(page.body.contains("Participant created."));

    for page in [page, admin.get("/console/participants").await] {
        assert!(!page.body.contains(name), "{}", page.body);
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
        );
    }
}

#[tokio::test]
async fn an_admin_gets_404_for_another_tenants_participant() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let (theirs, email) = app.participant(&other, ParticipantType::User, "Tara").await;
    app.login(&other, &email).await;
    let admin = FormBrowser::admin(&app, &acme).await;

    admin
        .get(&format!("/console/participants/{theirs}"))
        .await
        .assert(404);
    admin
        .get("/console/participants/not-an-id")
        .await
        .assert(404);
    for (path, form) in [
        (
            format!("/console/participants/{theirs}"),
            vec![("name", "Mine now")],
        ),
        (
            format!("/console/participants/{theirs}/block"),
            vec![("blocked", "true")],
        ),
        (
            format!("/console/participants/{theirs}/password"),
            vec![("password", "another-password-1")],
        ),
        (
            format!("/console/participants/{theirs}/sessions/revoke"),
            vec![],
        ),
    ] {
        admin.post(&path, &form).await.assert(404);
    }
    let tara = app
        .core
        .participant(TenantId(other.id), samvad::domain::ParticipantId(theirs))
        .await
        .unwrap();
    assert_eq!(tara.name, "Tara");
    assert!(!tara.blocked);
    let listed = admin.get("/console/participants?q=Tara").await;
    assert!(listed.body.contains("No participants match."));
}

#[tokio::test]
async fn bad_input_re_renders_the_form_with_the_problem_and_422() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = FormBrowser::admin(&app, &tenant).await;

    let page = admin
        .post(
            "/console/participants",
            &[
                ("type", "user"),
                ("name", "Keeps <b>typed</b>"),
                ("email", "not-an-email"),
            ],
        )
        .await;
    page.assert(422);
    assert!(page.body.contains("role=\"alert\""));
    assert!(
        page.body
            .contains("value=\"Keeps &#60;b&#62;typed&#60;/b&#62;\"")
    );

    let page = admin
        .post(
            "/console/policies",
            &[("role", "wizard"), ("object", "audit"), ("action", "read")],
        )
        .await;
    page.assert(422);
    assert!(page.body.contains("role must be one of"));
    let page = admin
        .post(
            "/console/policies/remove",
            &[
                ("role", "admin"),
                ("object", "policies"),
                ("action", "write"),
            ],
        )
        .await;
    page.assert(422);
    assert!(page.body.contains("admins must keep"));
}

#[tokio::test]
async fn an_admin_edits_blocks_resets_and_ends_sessions_of_a_participant() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let (uma, email) = app.participant(&tenant, ParticipantType::User, "Uma").await;
    let phone = app.login(&tenant, &email).await;
    let admin = FormBrowser::admin(&app, &tenant).await;
    let path = format!("/console/participants/{uma}");

    // Her session is listed; ending them all logs her out.
    let page = admin.get(&path).await;
    assert!(page.body.contains("End session"));
    admin
        .post(&format!("{path}/sessions/revoke"), &[])
        .await
        .assert_redirect(&format!("{path}?done=sessions-ended"));
    app.get("/api/auth/me", &phone.access)
        .await
        .assert_error(401, "session_revoked");
    assert!(admin.get(&path).await.body.contains("No live sessions."));

    // Edit, then a new password (her old one stops working).
    admin
        .post(
            &path,
            &[
                ("name", "Uma Rao"),
                ("email", &email),
                ("phone", ""),
                ("avatar", ""),
                ("status", "Here"),
            ],
        )
        .await
        .assert_redirect(&format!("{path}?done=saved"));
    admin
        .post(
            &format!("{path}/password"),
            &[("password", "brand-new-password")],
        )
        .await
        .assert_redirect(&format!("{path}?done=password"));
    let login = app
        .post(
            "/api/auth/login",
            None,
            serde_json::json!({ "tenant": "acme", "email": email, "password": "brand-new-password" }),
        )
        .await;
    assert_eq!(login.data()["user"]["name"], "Uma Rao");

    // Block, unblock; an admin cannot block themselves.
    admin
        .post(&format!("{path}/block"), &[("blocked", "true")])
        .await
        .assert_redirect(&format!("{path}?done=blocked"));
    assert!(
        admin
            .get("/console/participants?blocked=yes")
            .await
            .body
            .contains("Uma Rao")
    );
    admin
        .post(&format!("{path}/block"), &[("blocked", "false")])
        .await
        .assert_redirect(&format!("{path}?done=unblocked"));
    admin
        .post(
            &format!("/console/participants/{}/block", tenant.admin_id),
            &[("blocked", "true")],
        )
        .await
        .assert(422);

    // All of it is in the audit log, which filters by action and actor.
    let audit = admin.get("/console/audit?action=participant.block").await;
    audit.assert(200);
    assert!(audit.body.contains("<code>participant.block</code>"));
    assert!(!audit.body.contains("<code>participant.unblock</code>"));
    let audit = admin
        .get(&format!("/console/audit?actor={}", tenant.admin_id))
        .await;
    for action in [
        "participant.sessions_revoke",
        "participant.update",
        "participant.password_set",
    ] {
        assert!(audit.body.contains(action), "{action} missing");
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let audit = admin
        .get(&format!(
            "/console/audit?action=participant.update&from={today}&to={today}"
        ))
        .await;
    assert!(audit.body.contains("participant.update"));
    let audit = admin
        .get("/console/audit?action=participant.update&from=2000-01-01&to=2000-01-02")
        .await;
    assert!(audit.body.contains("No entries match."));
    admin.get("/console/audit?from=yesterday").await.assert(422);
}
