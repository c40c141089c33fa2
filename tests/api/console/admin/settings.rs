//! Policies, settings, Agora credentials and API keys from the console.

use samvad::domain::TenantId;

use super::FormBrowser;
use crate::helpers::TestApp;

#[tokio::test]
async fn policies_are_granted_checked_and_revoked() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = FormBrowser::admin(&app, &tenant).await;
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
    let admin = FormBrowser::admin(&app, &tenant).await;
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
