//! The console's administration pages: participants, policies, settings,
//! audit log and tenants. Status codes, CSRF, escaping, tenant isolation,
//! and who may see which page.

use reqwest::{Method, StatusCode, header};
use samvad::domain::{TenantId, participant::ParticipantType};

use crate::helpers::{PASSWORD, TestApp, TestTenant};

/// A console response: status, where it redirects, and its body.
struct Page {
    status: StatusCode,
    location: String,
    body: String,
}

impl Page {
    fn assert(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self
    }

    fn assert_redirect(&self, prefix: &str) -> &Self {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        assert!(
            self.location.starts_with(prefix),
            "redirected to {} rather than {prefix}",
            self.location
        );
        self
    }

    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF token ({}): {}", self.status, self.body))
            + marker.len();
        let end = start + self.body[start..].find('"').unwrap();
        self.body[start..end].to_owned()
    }
}

/// A browser without JavaScript: it keeps the console cookie itself.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookie: Option<String>,
    csrf: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            csrf: String::new(),
        }
    }

    /// Signs in (an empty tenant: the superadmin) and reads a CSRF token.
    async fn signed_in(app: &'a TestApp, tenant: &str, email: &str) -> Self {
        let mut browser = Self::new(app);
        let response = browser
            .client
            .post(app.url("/console/login"))
            .form(&[("tenant", tenant), ("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in failed");
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        browser.cookie = Some(cookie);
        let home = if tenant.is_empty() {
            "/console/tenants"
        } else {
            "/console/participants"
        };
        browser.csrf = browser.get(home).await.csrf();
        browser
    }

    async fn admin(app: &'a TestApp, tenant: &TestTenant) -> Self {
        Self::signed_in(app, &tenant.slug, &tenant.admin_email).await
    }

    async fn send(&self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut request = self.client.request(method, self.app.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.unwrap();
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// Posts a form with the session's CSRF token.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut fields = vec![("_csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.send(Method::POST, path, Some(&fields)).await
    }

    /// Posts a form without any CSRF token.
    async fn post_bare(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }
}

#[tokio::test]
async fn every_admin_page_renders_for_an_admin_and_needs_a_session() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Browser::admin(&app, &tenant).await;
    let anonymous = Browser::new(&app);

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
    let admin = Browser::admin(&app, &tenant).await;

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
async fn a_participant_named_like_a_script_is_shown_as_text() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Browser::admin(&app, &tenant).await;
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
    let admin = Browser::admin(&app, &acme).await;

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
    let admin = Browser::admin(&app, &tenant).await;

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
    let admin = Browser::admin(&app, &tenant).await;
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

#[tokio::test]
async fn policies_are_granted_checked_and_revoked() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Browser::admin(&app, &tenant).await;
    let question = "/console/policies/check?role=user&action=read&object=audit";

    assert!(admin.get(question).await.body.contains("Denied"));
    let rule = [("role", "user"), ("object", "audit"), ("action", "read")];
    admin
        .post("/console/policies", &rule)
        .await
        .assert_redirect("/console/policies?done=added");
    assert!(admin.get(question).await.body.contains("Allowed"));
    admin.post("/console/policies", &rule).await.assert(422);
    admin
        .post("/console/policies/remove", &rule)
        .await
        .assert_redirect("/console/policies?done=removed");
    assert!(admin.get(question).await.body.contains("Denied"));
    admin
        .get("/console/policies/check?role=user&action=fly&object=audit")
        .await
        .assert(422);
}

#[tokio::test]
async fn settings_agora_and_api_keys_are_managed_from_the_settings_page() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Browser::admin(&app, &tenant).await;
    let tenant_id = TenantId(tenant.id);

    // The form saves what it shows, with one change.
    let page = admin.get("/console/settings").await;
    page.assert(200);
    let mut form = form_fields(&page.body);
    form.retain(|(k, _)| k != "ring_timeout" && k != "_csrf");
    form.push(("ring_timeout".into(), "25".into()));
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    admin
        .post("/console/settings", &fields)
        .await
        .assert_redirect("/console/settings?done=saved");
    let settings = app.core.settings_of(tenant_id).await.unwrap();
    assert_eq!(settings.ring_timeout_secs, 25);
    assert!(settings.allow_self_registration);
    let mut bad = fields.clone();
    bad.retain(|(k, _)| *k != "ring_timeout");
    bad.push(("ring_timeout", "0"));
    let page = admin.post("/console/settings", &bad).await;
    page.assert(422);
    assert!(page.body.contains("ringTimeoutSeconds must be 1-600"));

    // Allowed origins: one per line, stored as browsers send them.
    let mut with_origins = fields.clone();
    with_origins.retain(|(k, _)| *k != "allowed_origins");
    with_origins.push((
        "allowed_origins",
        "https://App.acme.example/\r\nhttp://localhost:3000",
    ));
    admin
        .post("/console/settings", &with_origins)
        .await
        .assert_redirect("/console/settings?done=saved");
    let settings = app.core.settings_of(tenant_id).await.unwrap();
    assert_eq!(
        settings.allowed_origins,
        ["https://app.acme.example", "http://localhost:3000"]
    );
    let page = admin.get("/console/settings").await;
    let shown = form_fields(&page.body);
    assert!(shown.contains(&(
        "allowed_origins".to_owned(),
        "https://app.acme.example\nhttp://localhost:3000".to_owned()
    )));
    with_origins.pop();
    with_origins.push(("allowed_origins", "app.acme.example"));
    let page = admin.post("/console/settings", &with_origins).await;
    page.assert(422);
    assert!(
        page.body
            .contains("is not an origin like https://app.example")
    );
    assert!(
        page.body.contains(">app.acme.example</textarea>"),
        "what was typed stays"
    );

    // Agora: write-only.
    let certificate = "0123456789abcdef0123456789abcdef";
    admin
        .post(
            "/console/settings/agora",
            &[
                ("app_id", "fedcba9876543210fedcba9876543210"),
                ("certificate", certificate),
            ],
        )
        .await
        .assert_redirect("/console/settings?done=agora-set");
    let page = admin.get("/console/settings").await;
    assert!(page.body.contains("Configured since"));
    assert!(!page.body.contains(certificate));
    admin
        .post(
            "/console/settings/agora",
            &[("app_id", "nope"), ("certificate", "nope")],
        )
        .await
        .assert(422);

    // API keys: the secret shows once.
    let page = admin
        .post(
            "/console/settings/api-keys",
            &[("name", "CRM"), ("scopes", "read"), ("scopes", "calls")],
        )
        .await;
    page.assert(200);
    let start = page.body.find("svk_").expect("the new key");
    let secret: String = page.body[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let page = admin.get("/console/settings").await;
    assert!(page.body.contains("CRM") && page.body.contains("read, calls"));
    assert!(!page.body.contains(&secret));
    admin
        .post("/console/settings/api-keys", &[("name", "None")])
        .await
        .assert(422);
    let key = app.core.api_keys(tenant_id).await.unwrap().remove(0);
    admin
        .post(
            &format!("/console/settings/api-keys/{}/revoke", key.id.0),
            &[],
        )
        .await
        .assert_redirect("/console/settings?done=key-revoked");
    assert!(
        app.core.api_keys(tenant_id).await.unwrap()[0]
            .revoked_at
            .is_some()
    );
}

/// The named fields of a page's first POST form (inputs, checked boxes).
fn form_fields(html: &str) -> Vec<(String, String)> {
    let start = html
        .find("<form method=\"post\" action=\"/console/settings#")
        .unwrap();
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let attr = |tag: &str, name: &str| {
        let marker = format!("{name}=\"");
        tag.find(&marker).map(|i| {
            let rest = &tag[i + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
    };
    let inputs = form.split("<input").skip(1).filter_map(|tag| {
        let tag = &tag[..tag.find('>').unwrap()];
        let name = attr(tag, "name")?;
        if tag.contains("type=\"checkbox\"") {
            return tag.contains("checked").then(|| (name, "on".to_owned()));
        }
        Some((name, attr(tag, "value").unwrap_or_default()))
    });
    let textareas = form.split("<textarea").skip(1).filter_map(|tag| {
        let open = tag.find('>').unwrap();
        let text = &tag[open + 1..tag.find("</textarea>").unwrap()];
        Some((attr(&tag[..open], "name")?, text.to_owned()))
    });
    inputs.chain(textareas).collect()
}

#[tokio::test]
async fn the_superadmin_manages_tenants_and_admins_do_not() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    app.superadmin().await;
    let root = Browser::signed_in(&app, "", "root@platform.test").await;
    let admin = Browser::admin(&app, &acme).await;

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
    Browser::signed_in(&app, "beta", "boss@beta.test").await;
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
