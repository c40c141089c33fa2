//! Webhooks from the console: adding an endpoint (its secret shown once),
//! the form's problems, turning one off and on, replacing its secret,
//! deleting it, the delivery log and "Send again" (to a real receiver that
//! checks the signature with the secret the page showed). `access`: who
//! may use the pages, CSRF and tenant isolation.

mod access;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Admin, Page};
use crate::helpers::{TestApp, TestTenant, webhooks::Receiver, within};

const LIST: &str = "/console/webhooks";
const HOOK_URL: &str = "https://hooks.example.com/samvad";
const WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl Admin {
    /// Adds an endpoint through the form; returns its id and the secret
    /// the answer shows.
    async fn add(&self, app: &TestApp, url: &str, events: &[&str]) -> (Uuid, String) {
        let before = endpoint_ids(app).await;
        let mut form = vec![("url", url)];
        form.extend(events.iter().map(|e| ("event_types", *e)));
        let page = self.post(LIST, &form).await;
        page.assert_status(200);
        let id = endpoint_ids(app)
            .await
            .into_iter()
            .find(|id| !before.contains(id))
            .expect("the form made an endpoint");
        (id, secret_in(&page))
    }
}

/// The `whsec_…` secret a page shows.
fn secret_in(page: &Page) -> String {
    let start = page
        .body
        .find("value=\"whsec_")
        .unwrap_or_else(|| panic!("no secret in: {}", page.body))
        + "value=\"".len();
    let end = start + page.body[start..].find('"').unwrap();
    // Base64 holds nothing HTML escapes.
    page.body[start..end].to_owned()
}

/// Every endpoint's id, of any tenant.
async fn endpoint_ids(app: &TestApp) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM webhook_endpoints")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn enabled(app: &TestApp, id: Uuid) -> bool {
    sqlx::query_scalar("SELECT enabled FROM webhook_endpoints WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A delivery the receiver failed for good (the log has no other way to
/// get one without a receiver and a worker's retries).
async fn failed_delivery(app: &TestApp, tenant: &TestTenant, endpoint: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    let body =
        r#"{"type":"message.created","timestamp":"2026-01-02T03:04:05Z","data":{"id":"m-1"}}"#;
    sqlx::query(
        "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_type, position, body,
             state, attempts, next_at, status_code, response_body, error, latency_ms,
             created_at, updated_at)
         VALUES (?, ?, ?, 'message.created', NULL, ?, 'failed', 8, UTC_TIMESTAMP(3), 503,
             'upstream <b>overloaded</b>', 'gave up after 8 attempts', 120,
             UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))",
    )
    .bind(tenant.id)
    .bind(id)
    .bind(endpoint)
    .bind(body)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn delivery_state(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("SELECT CAST(state AS CHAR) FROM webhook_deliveries WHERE id = ?")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_endpoint_added_from_the_form_shows_its_secret_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let page = admin.get(LIST).await;
    page.assert_status(200);
    assert!(page.body.contains("No endpoints yet."));
    assert!(
        page.body.contains("href=\"/console/webhooks\""),
        "not in the nav"
    );
    // Every event type is offered, none ticked.
    for kind in [
        "message.created",
        "participant.created",
        "consultation.updated",
    ] {
        assert!(page.body.contains(&format!("value=\"{kind}\">")), "{kind}");
    }
    assert!(!page.body.contains(" checked"));

    let form = [
        ("url", HOOK_URL),
        ("description", "CRM <sync>"),
        ("event_types", "message.created"),
        ("event_types", "call.ended"),
    ];
    let page = admin.post(LIST, &form).await;
    page.assert_status(200);
    let secret = secret_in(&page);
    assert!(secret.len() > "whsec_".len() + 40, "{secret}");
    assert!(page.body.contains("it will not be shown again"));
    assert!(page.body.contains("CRM &#60;sync&#62;"), "not escaped");

    // Neither the list nor the endpoint's page shows it again.
    let list = admin.get(LIST).await;
    list.assert_status(200);
    assert!(list.body.contains(HOOK_URL) && list.body.contains("message.created, call.ended"));
    assert!(!list.body.contains("whsec_") && !list.body.contains("not be shown again"));
    let (id, types): (Uuid, Value) =
        sqlx::query_as("SELECT id, event_types FROM webhook_endpoints")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(types, json!(["message.created", "call.ended"]));
    let endpoint = admin.get(&format!("{LIST}/{id}")).await;
    endpoint.assert_status(200);
    assert!(endpoint.body.contains(HOOK_URL) && endpoint.body.contains("No deliveries yet."));
    assert!(!endpoint.body.contains("whsec_"));

    // Replacing it shows the new one, once.
    let page = admin.post(&format!("{LIST}/{id}/secret"), &[]).await;
    page.assert_status(200);
    let replaced = secret_in(&page);
    assert_ne!(replaced, secret);
    assert!(!admin.get(LIST).await.body.contains("whsec_"));
}

#[tokio::test]
async fn the_add_form_says_what_is_wrong_and_keeps_what_was_typed() {
    // Explicitly off, whatever the test default: private targets are refused.
    let app = TestApp::spawn_with(|c| c.webhooks.allow_private = false).await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;

    let cases: [(&str, &[&str], &str); 5] = [
        (HOOK_URL, &[], "choose at least one event type"),
        ("", &["message.created"], "enter the URL of the endpoint"),
        (
            "ftp://x",
            &["message.created"],
            "url must start with https://",
        ),
        (
            "http://127.0.0.1:8080/hook",
            &["message.created"],
            "private, loopback or reserved",
        ),
        (HOOK_URL, &["message.exploded"], "unknown event type"),
    ];
    for (url, events, says) in cases {
        let mut form = vec![("url", url), ("description", "Billing")];
        form.extend(events.iter().map(|e| ("event_types", *e)));
        let page = admin.post(LIST, &form).await;
        page.assert_status(422);
        assert!(page.body.contains(says), "{says}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""));
        assert!(page.body.contains(&format!("value=\"{url}\"")), "{url}");
        assert!(page.body.contains("value=\"Billing\""));
        if events == ["message.created"] {
            assert!(page.body.contains("value=\"message.created\" checked"));
        }
    }
    assert!(endpoint_ids(&app).await.is_empty());
}

#[tokio::test]
async fn an_endpoint_is_turned_off_and_on_and_deleted() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    let (id, _) = admin.add(&app, HOOK_URL, &["call.missed"]).await;
    let path = |tail: &str| format!("{LIST}/{id}{tail}");

    let page = admin.post(&path("/enabled"), &[("enabled", "false")]).await;
    page.assert_redirect("/console/webhooks?done=off");
    assert!(!enabled(&app, id).await);
    let page = admin.get("/console/webhooks?done=off").await;
    assert!(page.body.contains("Endpoint turned off"));
    assert!(page.body.contains("turned off by an admin") && page.body.contains("Turn on"));

    // From the endpoint's page, back to it.
    let form = [("enabled", "true"), ("from", "endpoint")];
    let page = admin.post(&path("/enabled"), &form).await;
    page.assert_redirect(&path("?done=on"));
    assert!(enabled(&app, id).await);
    let page = admin.post(&path("/enabled"), &[("enabled", "maybe")]).await;
    page.assert_status(422);

    // What Samvad's worker records shows: failing, then turned off.
    sqlx::query("UPDATE webhook_endpoints SET failing_since = UTC_TIMESTAMP(3) WHERE id = ?")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(admin.get(LIST).await.body.contains("failing since"));
    sqlx::query(
        "UPDATE webhook_endpoints SET enabled = FALSE,
             disabled_reason = 'the receiver answered 410 Gone' WHERE id = ?",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let page = admin.get(&path("")).await;
    assert!(page.body.contains("the receiver answered 410 Gone"));
    admin
        .post(&path("/enabled"), &[("enabled", "true")])
        .await
        .assert_redirect("/console/webhooks?done=on");
    let page = admin.get(LIST).await;
    assert!(!page.body.contains("answered 410 Gone") && !page.body.contains("failing since "));

    let page = admin.post(&path("/delete"), &[]).await;
    page.assert_redirect("/console/webhooks?done=deleted");
    assert!(endpoint_ids(&app).await.is_empty());
    admin.get(&path("")).await.assert_status(404);
    admin.post(&path("/delete"), &[]).await.assert_status(404);
    admin
        .get("/console/webhooks/not-an-id")
        .await
        .assert_status(404);
}

#[tokio::test]
async fn a_delivery_in_the_log_is_sent_again_signed_with_the_secret_shown() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(|c| c.webhooks.allow_private = true).await;
    let tenant = app.tenant("acme").await;
    let admin = Admin::new(&app, &tenant).await;
    // Only `message.created`, and no messages: the log holds only ours.
    let url = receiver.url("/console");
    let (id, first) = admin.add(&app, &url, &["message.created"]).await;
    let delivery = failed_delivery(&app, &tenant, id).await;
    let page_path = format!("{LIST}/{id}");
    let resend = format!("{page_path}/deliveries/{delivery}/resend");

    let page = admin.get(&page_path).await;
    page.assert_status(200);
    for shown in [
        "message.created",
        "✗ failed",
        "<td>8</td>",
        "<td>503</td>",
        "120 ms",
        "gave up after 8 attempts",
        "upstream &#60;b&#62;overloaded&#60;/b&#62;",
        &format!("msg_{}", delivery.simple()),
        &format!("action=\"{resend}\""),
    ] {
        assert!(
            page.body.contains(shown),
            "{shown} is not shown: {}",
            page.body
        );
    }
    assert!(
        !page.body.contains("<b>overloaded"),
        "the receiver's answer is not escaped"
    );

    // Off: the page says why it is not sent.
    admin
        .post(&format!("{page_path}/enabled"), &[("enabled", "false")])
        .await
        .assert_redirect("/console/webhooks?done=off");
    let page = admin.post(&resend, &[]).await;
    page.assert_status(422);
    assert!(
        page.body.contains("turn it on to send again"),
        "{}",
        page.body
    );
    assert_eq!(delivery_state(&app, delivery).await, "failed");
    admin
        .post(&format!("{page_path}/enabled"), &[("enabled", "true")])
        .await
        .assert_redirect("/console/webhooks?done=on");

    // The secret replaced from the console is the one it is signed with.
    let page = admin.post(&format!("{LIST}/{id}/secret"), &[]).await;
    let secret = secret_in(&page);
    assert_ne!(secret, first);
    receiver.set_secret(&secret).await;

    let page = admin.post(&resend, &[]).await;
    page.assert_redirect(&format!("{page_path}?done=resent#deliveries"));
    // Queued at once (the worker may already have it, or have sent it).
    let state = delivery_state(&app, delivery).await;
    assert!(
        ["pending", "sending", "sent"].contains(&state.as_str()),
        "{state}"
    );
    within(WAIT, "the delivery sent again", async || {
        delivery_state(&app, delivery).await == "sent"
    })
    .await;
    let got = receiver.received().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["id"], format!("msg_{}", delivery.simple()));
    assert_eq!(got[0]["verified"], true, "{got:?}");
    assert_eq!(got[0]["payload"]["data"]["id"], "m-1");

    let page = admin.get(&format!("{page_path}?done=resent")).await;
    assert!(page.body.contains("The delivery is queued"));
    assert!(page.body.contains(">sent</span>") && page.body.contains("<td>200</td>"));

    // A delivery of no endpoint of this tenant is not found.
    let stray = format!("{page_path}/deliveries/{}/resend", Uuid::now_v7());
    admin.post(&stray, &[]).await.assert_status(404);
}
