//! A tenant with the cast of the messaging tests: an admin, an astrologer,
//! a user who consulted the astrologer, and a user who did not.

use std::time::Duration;

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use crate::helpers::{Login, Res, TestApp, TestTenant};

pub struct World {
    pub app: TestApp,
    pub tenant: TestTenant,
    pub admin: Login,
    pub astro: Login,
    pub user: Login,
    pub stranger: Login,
}

impl World {
    pub async fn new() -> Self {
        Self::in_app(TestApp::spawn().await, "acme").await
    }

    /// The cast in a tenant `slug` of an existing app.
    pub async fn in_app(app: TestApp, slug: &str) -> Self {
        let tenant = app.tenant(slug).await;
        let admin = app.login_admin(&tenant).await;
        // Tests send a lot: lift the per-participant send limit.
        app.settings(
            &admin,
            json!({ "messagesPerParticipant": { "max": 10_000, "perSeconds": 60 } }),
        )
        .await;
        let astro = app
            .participant_login(&tenant, ParticipantType::Astrologer, "Asha")
            .await;
        let user = app
            .participant_login(&tenant, ParticipantType::User, "Uma")
            .await;
        let stranger = app
            .participant_login(&tenant, ParticipantType::User, "Sam")
            .await;
        let world = Self {
            app,
            tenant,
            admin,
            astro,
            user,
            stranger,
        };
        world.consult(&world.user).await;
        world
    }

    /// Records a consultation between `user` and the astrologer.
    pub async fn consult(&self, user: &Login) {
        let body = json!({ "userId": user.id, "astrologerId": self.astro.id, "status": "active" });
        self.app
            .post("/api/consultations", Some(&self.admin.access), body)
            .await
            .data();
    }

    /// Opens the direct conversation of `from` with `to`; returns its id.
    pub async fn open(&self, from: &Login, to: &Login) -> String {
        let res = self
            .app
            .post(
                "/api/conversations",
                Some(&from.access),
                json!({ "participantId": to.id }),
            )
            .await;
        res.data()["id"].as_str().unwrap().to_owned()
    }

    /// The admin's new group of `members` (and the admin); returns its id.
    pub async fn group(&self, title: &str, members: &[&Login]) -> String {
        let ids: Vec<uuid::Uuid> = members.iter().map(|m| m.id).collect();
        let res = self
            .app
            .post(
                "/api/conversations",
                Some(&self.admin.access),
                json!({ "type": "group", "title": title, "memberIds": ids }),
            )
            .await;
        res.data()["id"].as_str().unwrap().to_owned()
    }

    /// `by` blocks `whom`.
    pub async fn block(&self, by: &Login, whom: &Login) {
        self.app
            .post(
                "/api/blocks",
                Some(&by.access),
                json!({ "participantId": whom.id }),
            )
            .await
            .data();
    }

    /// Sends `text` into a conversation; returns the message.
    pub async fn send(&self, from: &Login, conversation: &str, text: &str) -> Value {
        let path = format!("/api/conversations/{conversation}/messages");
        self.app
            .post(&path, Some(&from.access), json!({ "content": text }))
            .await
            .data()
            .clone()
    }

    /// The messages of a conversation as `who` sees them, oldest first.
    pub async fn history(&self, who: &Login, conversation: &str) -> Vec<Value> {
        let path = format!("/api/conversations/{conversation}/messages?after=0&limit=100");
        self.app.get(&path, &who.access).await.data()["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// `who`'s view of a conversation.
    pub async fn conversation(&self, who: &Login, conversation: &str) -> Value {
        self.app
            .get(&format!("/api/conversations/{conversation}"), &who.access)
            .await
            .data()
            .clone()
    }

    /// Changes the tenant's settings as its admin; returns them, changed.
    pub async fn settings(&self, patch: Value) -> Value {
        self.app.settings(&self.admin, patch).await
    }

    pub async fn call(&self, who: &Login, method: Method, path: &str, body: Option<Value>) -> Res {
        self.app.call(method, path, Some(&who.access), body).await
    }

    /// Each `(method, path)` is 404 for the user, the admin and an admin of
    /// another tenant (made here): for objects that are the astrologer's own.
    pub async fn assert_not_found_for_all_but_the_astrologer(&self, calls: &[(Method, String)]) {
        let rival = self.app.tenant("rival").await;
        let rival_admin = self.app.login_admin(&rival).await;
        for who in [&self.user, &self.admin, &rival_admin] {
            for (method, path) in calls {
                self.app
                    .call(method.clone(), path, Some(&who.access), None)
                    .await
                    .assert_error(404, "not_found");
            }
        }
    }

    /// Marks `who` connected, as their first socket would.
    pub async fn connected(&self, who: &Login) {
        let actor = self
            .app
            .state
            .auth
            .authenticate(&who.access, None)
            .await
            .unwrap();
        self.app.core.connection_opened(&actor).await.unwrap();
    }
}

/// `who`'s notifications (newest first), polled until `done` holds (the
/// worker runs beside the requests) or 10 s pass.
pub async fn inbox_until(
    app: &TestApp,
    who: &Login,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut items = Vec::new();
    for _ in 0..400 {
        items = app.get("/api/notifications", &who.access).await.data()["items"]
            .as_array()
            .unwrap()
            .clone();
        if done(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the inbox never got there: {items:?}");
}
