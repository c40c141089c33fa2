//! The contact guard from the Moderation page: the form shows the rules
//! and changes them (the next send is refused or passes accordingly), a
//! pattern that does not compile comes back in the form with nothing
//! saved, and the flags show who tried to share what, escaped.

use serde_json::{Value, json};

use super::{Admin, QUEUE};
use crate::{
    helpers::{Login, Res},
    world::World,
};

const GUARD: &str = "/console/moderation/guard";
const SAVED: &str = "/console/moderation?done=guard-saved#guard";

async fn post(world: &World, who: &Login, conversation: &str, text: &str) -> Res {
    let path = format!("/api/conversations/{conversation}/messages");
    let body = json!({ "content": text });
    world.app.post(&path, Some(&who.access), body).await
}

async fn guard_settings(world: &World) -> Value {
    let res = world.app.get("/api/settings", &world.admin.access).await;
    res.data()["contactGuard"].clone()
}

#[tokio::test]
async fn the_guard_form_switches_to_block_and_a_phone_number_is_refused() {
    let world = World::new().await;
    let admin = Admin::new(&world.app, &world.tenant).await;
    let conversation = world.open(&world.user, &world.astro).await;

    // Off, with every built-in kind ticked, no patterns and no flags.
    let page = admin.get(QUEUE).await;
    page.assert_status(200);
    assert!(page.body.contains("<option value=\"off\" selected>"));
    for kind in ["phones", "emails", "links", "handles"] {
        let ticked = format!("name=\"{kind}\" value=\"on\" checked");
        assert!(page.body.contains(&ticked), "{kind}");
    }
    assert!(page.body.contains("No flags yet."));

    let form = [
        ("mode", "block"),
        ("phones", "on"),
        ("emails", "on"),
        ("links", "on"),
        ("handles", "on"),
        ("patterns", "\\bpaytm\\b\r\n\r\n  gpay  \r\n"),
    ];
    admin.post(GUARD, &form).await.assert_redirect(SAVED);
    let rules = guard_settings(&world).await;
    assert_eq!(rules["mode"], json!("block"));
    assert_eq!(rules["patterns"], json!(["\\bpaytm\\b", "gpay"]));
    let page = admin.get("/console/moderation?done=guard-saved").await;
    assert!(page.body.contains("Contact guard saved"));
    assert!(page.body.contains("<option value=\"block\" selected>"));
    assert!(page.body.contains("\\bpaytm\\b\ngpay</textarea>"));

    // The next send with a number is refused, and flagged on the page.
    post(
        &world,
        &world.user,
        &conversation,
        "ring <b>9876543210</b> tonight",
    )
    .await
    .assert_error(422, "contact_details");
    post(&world, &world.astro, &conversation, "pay me on GPay")
        .await
        .assert_error(422, "contact_details");
    let page = admin.get(QUEUE).await;
    assert!(!page.body.contains("No flags yet."));
    assert!(
        page.body
            .contains("ring &#60;b&#62;9876543210&#60;/b&#62; tonight")
    );
    assert!(!page.body.contains("<b>9876543210"), "not escaped");
    assert!(page.body.contains("pay me on GPay"));
    assert!(page.body.contains("<strong class=\"bad\">blocked</strong>"));
    assert!(page.body.contains(">phone<") && page.body.contains(">pattern<"));
    let sender = format!("href=\"/console/participants/{}\">Uma</a>", world.user.id);
    assert!(page.body.contains(&sender), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("/console/conversations/{conversation}"))
    );

    // Unticking phones lets numbers through; masking hides the rest.
    let form = [("mode", "mask"), ("links", "on"), ("patterns", "")];
    admin.post(GUARD, &form).await.assert_redirect(SAVED);
    let rules = guard_settings(&world).await;
    assert_eq!(
        (
            &rules["mode"],
            &rules["phones"],
            &rules["emails"],
            &rules["links"]
        ),
        (&json!("mask"), &json!(false), &json!(false), &json!(true))
    );
    assert_eq!(rules["patterns"], json!([]));
    let sent = post(
        &world,
        &world.user,
        &conversation,
        "9876543210 or see www.uma.in",
    )
    .await;
    assert_eq!(sent.data()["content"], json!("9876543210 or see •••"));
}

#[tokio::test]
async fn a_pattern_that_does_not_compile_is_shown_and_nothing_is_saved() {
    let world = World::new().await;
    let admin = Admin::new(&world.app, &world.tenant).await;

    let form = [
        ("mode", "block"),
        ("phones", "on"),
        ("patterns", "paytm\n(unclosed"),
    ];
    let page = admin.post(GUARD, &form).await;
    page.assert_status(422);
    assert!(page.body.contains("role=\"alert\""));
    assert!(
        page.body
            .contains("contactGuard.patterns: `(unclosed` is not valid"),
        "{}",
        page.body
    );
    // What was typed stays in the form.
    assert!(page.body.contains("paytm\n(unclosed</textarea>"));
    assert!(page.body.contains("<option value=\"block\" selected>"));
    assert!(page.body.contains("name=\"phones\" value=\"on\" checked"));
    assert!(!page.body.contains("name=\"emails\" value=\"on\" checked"));

    let page = admin.post(GUARD, &[("mode", "loud")]).await;
    page.assert_status(422);
    assert!(page.body.contains("choose off, mask or block"));

    let many: String = (0..21).map(|i| format!("word{i}\n")).collect();
    let page = admin
        .post(GUARD, &[("mode", "mask"), ("patterns", &many)])
        .await;
    page.assert_status(422);
    assert!(page.body.contains("at most 20"));

    let rules = guard_settings(&world).await;
    assert_eq!(rules["mode"], json!("off"));
    assert_eq!(rules["patterns"], json!([]));
}
