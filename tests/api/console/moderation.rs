//! Moderation from the console: the reports queue and its filter, a
//! report's page with the reported message in its context (escaped,
//! highlighted, deleted ones shown as deleted), and settling a report
//! there (dismiss, block the participant, delete the message), with the
//! "already settled" problem on the page. `guard`: the contact guard's
//! form and its flags. `access`: who may use the pages, CSRF and tenant
//! isolation.

mod access;
mod guard;

use serde_json::{Value, json};

use super::Admin;
use crate::{helpers::Login, world::World};

const QUEUE: &str = "/console/moderation";

/// A conversation of the user with the astrologer, in which the astrologer
/// wrote something the user reports: its id, the message's id and the
/// report's id.
struct Reported {
    conversation: String,
    message: String,
    report: String,
}

impl Reported {
    fn page(&self) -> String {
        format!("{QUEUE}/reports/{}", self.report)
    }

    fn action(&self, action: &str) -> String {
        format!("{QUEUE}/reports/{}/{action}", self.report)
    }
}

async fn report(world: &World, body: Value) -> String {
    let res = world
        .app
        .post("/api/reports", Some(&world.user.access), body)
        .await;
    res.data()["id"].as_str().unwrap().to_owned()
}

async fn reported_message(world: &World) -> Reported {
    let conversation = world.open(&world.user, &world.astro).await;
    world
        .send(&world.user, &conversation, "Namaste, is Saturn a problem?")
        .await;
    let sent = world
        .send(&world.astro, &conversation, "<b>x</b> you fool")
        .await;
    world
        .send(&world.user, &conversation, "That was rude.")
        .await;
    let message = sent["id"].as_str().unwrap().to_owned();
    let body = json!({
        "messageId": message,
        "reason": "abuse",
        "details": "insulted me <i>twice</i>",
    });
    let report = report(world, body).await;
    Reported {
        conversation,
        message,
        report,
    }
}

/// The report as the API shows it to the admin.
async fn report_of(world: &World, id: &str) -> Value {
    let path = format!("/api/reports/{id}");
    let res = world.app.get(&path, &world.admin.access).await;
    res.data()["report"].clone()
}

async fn blocked(world: &World, who: &Login) -> bool {
    let path = format!("/api/participants/{}", who.id);
    let res = world.app.get(&path, &world.admin.access).await;
    res.data()["blocked"].as_bool().unwrap()
}

#[tokio::test]
async fn a_reported_message_is_in_the_queue_and_shown_escaped_in_its_context() {
    let world = World::new().await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let page = admin.get(QUEUE).await;
    page.assert_status(200);
    assert!(page.body.contains("No open reports."));
    assert!(
        page.body.contains("href=\"/console/moderation\""),
        "not in the nav"
    );

    let r = reported_message(&world).await;
    let page = admin.get(QUEUE).await;
    page.assert_status(200);
    assert!(page.body.contains(&format!("href=\"{}\"", r.page())));
    for shown in [
        "Uma",
        "Asha",
        "abuse",
        "insulted me &#60;i&#62;twice&#60;/i&#62;",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    assert!(!page.body.contains("<i>twice"));

    let page = admin.get(&r.page()).await;
    page.assert_status(200);
    // The messages around it, the reported one highlighted, all escaped.
    assert!(page.body.contains("Namaste, is Saturn a problem?"));
    assert!(page.body.contains("That was rude."));
    assert!(page.body.contains("&#60;b&#62;x&#60;/b&#62; you fool"));
    assert!(!page.body.contains("<b>x</b>"), "not escaped");
    let highlighted = format!(
        "id=\"m-{}\" class=\"msg astrologer callout reported\"",
        r.message
    );
    assert!(page.body.contains(&highlighted), "{}", page.body);
    assert_eq!(page.body.matches("Reported message").count(), 1);
    assert!(page.body.contains(&format!(
        "href=\"/console/conversations/{}\"",
        r.conversation
    )));
    for action in ["dismiss", "block-participant", "delete-message"] {
        let form = format!("action=\"{}\"", r.action(action));
        assert!(page.body.contains(&form), "{action}");
    }
}

#[tokio::test]
async fn a_dismissed_report_leaves_the_queue_and_cannot_be_settled_again() {
    let world = World::new().await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let r = reported_message(&world).await;

    let page = admin.post(&r.action("dismiss"), &[]).await;
    let settled = format!("{}?done=dismissed", r.page());
    page.assert_redirect(&settled);
    let page = admin.get(&settled).await;
    page.assert_status(200);
    assert!(page.body.contains("Report dismissed"));
    assert!(
        !page.body.contains("/dismiss\""),
        "still offers the actions"
    );
    let report = report_of(&world, &r.report).await;
    assert_eq!(report["status"], json!("dismissed"));
    assert_eq!(report["resolution"], json!("dismissed"));
    assert_eq!(report["resolvedBy"], json!(world.tenant.admin_id));

    // Gone from the open queue; under "dismissed".
    let open = admin.get(QUEUE).await;
    assert!(!open.body.contains(&r.page()) && open.body.contains("No open reports."));
    let dismissed = admin.get(&format!("{QUEUE}?status=dismissed")).await;
    dismissed.assert_status(200);
    assert!(dismissed.body.contains(&r.page()));
    assert!(
        dismissed
            .body
            .contains("<option value=\"dismissed\" selected>")
    );
    let all = admin.get(&format!("{QUEUE}?status=all")).await;
    assert!(all.body.contains(&r.page()));
    let actioned = admin.get(&format!("{QUEUE}?status=actioned")).await;
    assert!(!actioned.body.contains(&r.page()));
    admin
        .get(&format!("{QUEUE}?status=burnt"))
        .await
        .assert_status(422);

    // A second action (a page left open elsewhere) says so, and does nothing.
    for action in ["block-participant", "delete-message", "dismiss"] {
        let page = admin.post(&r.action(action), &[]).await;
        page.assert_status(409);
        assert!(page.body.contains("role=\"alert\""));
        assert!(
            page.body.contains("this report has already been settled"),
            "{action}"
        );
        assert!(page.body.contains("&#60;b&#62;x&#60;/b&#62; you fool"));
    }
    assert!(!blocked(&world, &world.astro).await);
    let history = world.history(&world.user, &r.conversation).await;
    assert!(history.iter().all(|m| m["isDeleted"] == json!(false)));
}

#[tokio::test]
async fn blocking_from_a_report_blocks_the_reported_participant() {
    let world = World::new().await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let r = reported_message(&world).await;
    assert!(!blocked(&world, &world.astro).await);

    let page = admin.post(&r.action("block-participant"), &[]).await;
    page.assert_redirect(&format!("{}?done=blocked", r.page()));

    assert!(blocked(&world, &world.astro).await);
    assert!(!blocked(&world, &world.user).await);
    let report = report_of(&world, &r.report).await;
    assert_eq!(report["status"], json!("actioned"));
    assert_eq!(report["resolution"], json!("participant_blocked"));
    // Their sessions ended with it.
    let res = world
        .app
        .get("/api/conversations", &world.astro.access)
        .await;
    assert_eq!(res.status.as_u16(), 401, "{}", res.body);
    let page = admin.get(&format!("{QUEUE}?status=actioned")).await;
    assert!(page.body.contains(&r.page()) && page.body.contains("participant blocked"));
}

#[tokio::test]
async fn deleting_from_a_report_deletes_the_message_for_everyone() {
    let world = World::new().await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let r = reported_message(&world).await;

    let page = admin.post(&r.action("delete-message"), &[]).await;
    let settled = format!("{}?done=deleted", r.page());
    page.assert_redirect(&settled);

    for who in [&world.user, &world.astro] {
        let history = world.history(who, &r.conversation).await;
        let message = history
            .iter()
            .find(|m| m["id"] == json!(r.message))
            .expect("still in the history");
        assert_eq!(message["isDeleted"], json!(true));
        assert_eq!(message["content"], Value::Null);
    }
    assert!(!blocked(&world, &world.astro).await);
    assert_eq!(
        report_of(&world, &r.report).await["resolution"],
        json!("message_deleted")
    );
    // The page shows it deleted, the others as they were.
    let page = admin.get(&settled).await;
    page.assert_status(200);
    assert!(page.body.contains("Message deleted for everyone"));
    assert!(page.body.contains("This message was deleted."));
    assert!(!page.body.contains("you fool"));
    assert!(page.body.contains("That was rude."));
}

#[tokio::test]
async fn a_report_of_a_participant_has_no_message_to_delete() {
    let world = World::new().await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let body = json!({ "participantId": world.astro.id, "reason": "off_platform" });
    let id = report(&world, body).await;
    let page_path = format!("{QUEUE}/reports/{id}");

    let page = admin.get(&page_path).await;
    page.assert_status(200);
    assert!(page.body.contains("Report of a participant") && page.body.contains("off platform"));
    assert!(!page.body.contains("/delete-message\""));
    assert!(!page.body.contains("The message in its conversation"));

    let page = admin
        .post(&format!("{page_path}/delete-message"), &[])
        .await;
    page.assert_status(422);
    assert!(page.body.contains("this report is not about a message"));
    assert_eq!(report_of(&world, &id).await["status"], json!("open"));
}
