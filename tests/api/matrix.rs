//! The role × endpoint matrix: every endpoint in the spec, called as every
//! role, is allowed or denied exactly as the default policy says. A new
//! endpoint fails this test until it is added to the table.

use std::collections::BTreeSet;

use reqwest::Method;
use samvad::{api::direct_paths::is_direct, domain::participant::ParticipantType};
use serde_json::{Value, json};

use crate::helpers::{Login, PASSWORD, TestApp, TestTenant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Superadmin,
    Admin,
    Astrologer,
    User,
    Anonymous,
}

use Who::*;

const EVERYONE: &[Who] = &[Superadmin, Admin, Astrologer, User, Anonymous];
const PARTICIPANTS: &[Who] = &[Admin, Astrologer, User];
const LOGGED_IN: &[Who] = &[Superadmin, Admin, Astrologer, User];
const ADMIN: &[Who] = &[Admin];
const SUPERADMIN: &[Who] = &[Superadmin];

struct Case {
    method: Method,
    /// The spec's path template.
    template: String,
    /// The path called (template filled in).
    path: String,
    body: Option<Value>,
    allowed: &'static [Who],
}

fn case(
    method: Method,
    template: impl Into<String>,
    path: impl Into<String>,
    body: Option<Value>,
    allowed: &'static [Who],
) -> Case {
    Case {
        method,
        template: template.into(),
        path: path.into(),
        body,
        allowed,
    }
}

/// Tokens of every role, logged in afresh.
struct Tokens {
    superadmin: Login,
    admin: Login,
    astrologer: Login,
    user: Login,
}

impl Tokens {
    async fn login(app: &TestApp, acme: &TestTenant) -> Self {
        let root = app
            .post(
                "/api/platform/login",
                None,
                json!({ "email": "root@platform.test", "password": PASSWORD }),
            )
            .await;
        let data = root.data();
        Self {
            superadmin: Login {
                id: data["superadmin"]["id"].as_str().unwrap().parse().unwrap(),
                access: data["accessToken"].as_str().unwrap().to_owned(),
                refresh: data["refreshToken"].as_str().unwrap().to_owned(),
            },
            admin: app.login_admin(acme).await,
            astrologer: app.login(acme, "asha@acme.test").await,
            user: app.login(acme, "uma@acme.test").await,
        }
    }

    fn of(&self, who: Who) -> Option<&str> {
        match who {
            Superadmin => Some(&self.superadmin.access),
            Admin => Some(&self.admin.access),
            Astrologer => Some(&self.astrologer.access),
            User => Some(&self.user.access),
            Anonymous => None,
        }
    }
}

/// Whether the answer matches what the policy says for `who`.
fn as_expected(c: &Case, who: Who, status: u16, body: &Value) -> bool {
    let code = body["error"]["code"].as_str().unwrap_or("");
    if c.allowed.contains(&who) {
        // Public endpoints may refuse bad credentials (401); others never.
        let refused_auth = status == 401 && (code == "unauthorized" || c.allowed != EVERYONE);
        // A signed file link is its own authorization: a bad one is 403
        // `bad_link` for everyone, whatever the policy.
        (status != 403 || code == "bad_link") && !refused_auth
    } else if who == Anonymous {
        status == 401 && code == "unauthorized"
    } else {
        status == 403 && code == "forbidden"
    }
}

#[tokio::test]
async fn every_endpoint_allows_and_denies_each_role_as_the_policy_says() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let victim = app.tenant("victim").await;
    app.superadmin().await;
    app.participant(&acme, ParticipantType::Astrologer, "Asha")
        .await;
    app.participant(&acme, ParticipantType::User, "Uma").await;
    let (target, _) = app
        .participant(&acme, ParticipantType::User, "Target")
        .await;
    // This test is about the policy, not rate limits: it logs in a lot from one address.
    let generous = json!({ "max": 10_000, "perSeconds": 60 });
    let limits = json!({
        "loginPerIp": generous, "loginPerAccount": generous, "otpSendPerIp": generous,
        "otpSendPerDestination": generous, "otpVerifyPerIp": generous, "otpVerifyPerDestination": generous,
    });
    app.patch(
        "/api/settings",
        &app.login_admin(&acme).await.access,
        limits,
    )
    .await
    .data();
    let tokens = Tokens::login(&app, &acme).await;
    let ghost = uuid::Uuid::now_v7();
    let user_login = json!({ "tenant": "acme", "email": "uma@acme.test", "password": PASSWORD });
    let root_login = json!({ "email": "root@platform.test", "password": PASSWORD });
    let rule = json!({ "role": "admin", "object": "participants", "action": "read" });
    let phone = json!({ "tenant": "acme", "phone": "+919812345678" });
    let code = json!({ "tenant": "acme", "phone": "+919812345678", "code": "000000" });
    let register = json!({ "tenant": "acme", "name": "New", "email": "new@acme.test", "password": "long enough 1" });
    let same_password = json!({ "currentPassword": PASSWORD, "newPassword": PASSWORD });

    #[rustfmt::skip]
    let mut cases = vec![
        case(Method::GET, "/ping", "/ping", None, EVERYONE),
        case(Method::GET, "/health", "/health", None, EVERYONE),
        case(Method::POST, "/api/auth/login", "/api/auth/login", Some(user_login.clone()), EVERYONE),
        case(Method::POST, "/api/auth/refresh", "/api/auth/refresh", Some(json!({ "refreshToken": "x" })), EVERYONE),
        case(Method::GET, "/api/auth/me", "/api/auth/me", None, PARTICIPANTS),
        case(Method::POST, "/api/auth/send-otp", "/api/auth/send-otp", Some(phone.clone()), EVERYONE),
        case(Method::POST, "/api/auth/verify-otp-register", "/api/auth/verify-otp-register", Some(code.clone()), EVERYONE),
        case(Method::POST, "/api/auth/send-otp-login", "/api/auth/send-otp-login", Some(phone.clone()), EVERYONE),
        case(Method::POST, "/api/auth/verify-otp-login", "/api/auth/verify-otp-login", Some(code.clone()), EVERYONE),
        case(Method::POST, "/api/auth/register", "/api/auth/register", Some(register), EVERYONE),
        case(Method::POST, "/api/auth/verify-email", "/api/auth/verify-email", Some(json!({ "token": "x" })), EVERYONE),
        case(Method::POST, "/api/auth/resend-verification", "/api/auth/resend-verification", Some(json!({})), PARTICIPANTS),
        case(Method::POST, "/api/auth/forgot-password", "/api/auth/forgot-password", Some(json!({ "tenant": "acme", "email": "x@acme.test" })), EVERYONE),
        case(Method::POST, "/api/auth/reset-password", "/api/auth/reset-password", Some(json!({ "token": "x", "password": "long enough 1" })), EVERYONE),
        case(Method::POST, "/api/auth/change-password", "/api/auth/change-password", Some(same_password), PARTICIPANTS),
        case(Method::GET, "/api/auth/sessions", "/api/auth/sessions", None, LOGGED_IN),
        case(Method::DELETE, "/api/auth/sessions/{id}", format!("/api/auth/sessions/{ghost}"), None, LOGGED_IN),
        case(Method::POST, "/auth/send-otp", "/auth/send-otp", Some(phone.clone()), EVERYONE),
        case(Method::POST, "/auth/verify-otp-register", "/auth/verify-otp-register", Some(code.clone()), EVERYONE),
        case(Method::POST, "/auth/send-otp-login", "/auth/send-otp-login", Some(phone), EVERYONE),
        case(Method::POST, "/auth/verify-otp-login", "/auth/verify-otp-login", Some(code), EVERYONE),
        case(Method::POST, "/auth/login", "/auth/login", Some(user_login), EVERYONE),
        case(Method::GET, "/auth/me", "/auth/me", None, PARTICIPANTS),
        case(Method::POST, "/api/platform/login", "/api/platform/login", Some(root_login), EVERYONE),
        case(Method::GET, "/api/platform/me", "/api/platform/me", None, SUPERADMIN),
        case(Method::GET, "/api/platform/tenants", "/api/platform/tenants", None, SUPERADMIN),
        case(Method::GET, "/api/platform/tenants/{id}", format!("/api/platform/tenants/{}", victim.id), None, SUPERADMIN),
        case(Method::POST, "/api/platform/tenants/{id}/suspend", format!("/api/platform/tenants/{}/suspend", victim.id), Some(json!({})), SUPERADMIN),
        case(Method::POST, "/api/platform/tenants/{id}/resume", format!("/api/platform/tenants/{}/resume", victim.id), Some(json!({})), SUPERADMIN),
        case(Method::GET, "/api/participants", "/api/participants", None, ADMIN),
        case(Method::POST, "/api/participants", "/api/participants", Some(json!({ "type": "user", "name": "New" })), ADMIN),
        case(Method::GET, "/api/participants/{id}", format!("/api/participants/{target}"), None, ADMIN),
        case(Method::PATCH, "/api/participants/{id}", format!("/api/participants/{target}"), Some(json!({ "status": "hi" })), ADMIN),
        case(Method::POST, "/api/participants/{id}/block", format!("/api/participants/{target}/block"), Some(json!({})), ADMIN),
        case(Method::POST, "/api/participants/{id}/unblock", format!("/api/participants/{target}/unblock"), Some(json!({})), ADMIN),
        case(Method::GET, "/api/users", "/api/users", None, PARTICIPANTS),
        case(Method::GET, "/api/users/search", "/api/users/search?q=a", None, PARTICIPANTS),
        case(Method::GET, "/api/users/by-ids", format!("/api/users/by-ids?ids={target}"), None, PARTICIPANTS),
        case(Method::GET, "/api/users/profile", "/api/users/profile", None, PARTICIPANTS),
        case(Method::GET, "/api/users/online/count", "/api/users/online/count", None, PARTICIPANTS),
        case(Method::GET, "/api/presence", format!("/api/presence?ids={target}"), None, PARTICIPANTS),
        case(Method::GET, "/presence", format!("/presence?ids={target}"), None, PARTICIPANTS),
        case(Method::GET, "/api/users/profile/{userId}", format!("/api/users/profile/{}", acme.admin_id), None, PARTICIPANTS),
        case(Method::PATCH, "/api/users/me", "/api/users/me", Some(json!({ "status": "here" })), PARTICIPANTS),
        case(Method::GET, "/api/policies", "/api/policies", None, ADMIN),
        case(Method::POST, "/api/policies", "/api/policies", Some(rule.clone()), ADMIN),
        case(Method::DELETE, "/api/policies", "/api/policies?role=user&object=audit&action=read", None, ADMIN),
        case(Method::POST, "/api/policies/check", "/api/policies/check", Some(rule), ADMIN),
        case(Method::GET, "/api/audit-log", "/api/audit-log", None, ADMIN),
        case(Method::GET, "/api/settings", "/api/settings", None, ADMIN),
        case(Method::PATCH, "/api/settings", "/api/settings", Some(json!({})), ADMIN),
        case(Method::POST, "/api/api-keys", "/api/api-keys", Some(json!({ "name": "k", "scopes": ["read"] })), ADMIN),
        case(Method::GET, "/api/api-keys", "/api/api-keys", None, ADMIN),
        case(Method::DELETE, "/api/api-keys/{id}", format!("/api/api-keys/{ghost}"), None, ADMIN),
        case(Method::GET, "/api/conversations", "/api/conversations", None, PARTICIPANTS),
        case(Method::POST, "/api/conversations", "/api/conversations", Some(json!({ "participantId": ghost })), PARTICIPANTS),
        case(Method::GET, "/api/conversations/{id}", format!("/api/conversations/{ghost}"), None, PARTICIPANTS),
        case(Method::PATCH, "/api/conversations/{id}", format!("/api/conversations/{ghost}"), Some(json!({ "title": "T" })), PARTICIPANTS),
        case(Method::DELETE, "/api/conversations/{id}", format!("/api/conversations/{ghost}"), None, PARTICIPANTS),
        case(Method::GET, "/api/conversations/{id}/messages", format!("/api/conversations/{ghost}/messages"), None, PARTICIPANTS),
        case(Method::POST, "/api/conversations/{id}/messages", format!("/api/conversations/{ghost}/messages"), Some(json!({ "content": "hi" })), PARTICIPANTS),
        case(Method::POST, "/api/conversations/{id}/delivered", format!("/api/conversations/{ghost}/delivered"), Some(json!({ "seq": 1 })), PARTICIPANTS),
        case(Method::POST, "/api/conversations/{id}/read", format!("/api/conversations/{ghost}/read"), Some(json!({ "seq": 1 })), PARTICIPANTS),
        case(Method::GET, "/api/conversations/{id}/members", format!("/api/conversations/{ghost}/members"), None, PARTICIPANTS),
        case(Method::POST, "/api/conversations/{id}/members", format!("/api/conversations/{ghost}/members"), Some(json!({ "memberIds": [ghost] })), PARTICIPANTS),
        case(Method::PATCH, "/api/conversations/{id}/members/{participantId}", format!("/api/conversations/{ghost}/members/{ghost}"), Some(json!({ "role": "admin" })), PARTICIPANTS),
        case(Method::DELETE, "/api/conversations/{id}/members/{participantId}", format!("/api/conversations/{ghost}/members/{ghost}"), None, PARTICIPANTS),
        case(Method::POST, "/api/conversations/{id}/mute", format!("/api/conversations/{ghost}/mute"), Some(json!({ "muted": true })), PARTICIPANTS),
        case(Method::GET, "/api/admin/conversations/{astrologerId}", format!("/api/admin/conversations/{ghost}"), None, ADMIN),
        case(Method::GET, "/api/admin/conversations/{astrologerId}/messages", format!("/api/admin/conversations/{ghost}/messages"), None, ADMIN),
        case(Method::POST, "/api/admin/conversations/{astrologerId}/messages", format!("/api/admin/conversations/{ghost}/messages"), Some(json!({ "content": "hi" })), ADMIN),
        case(Method::GET, "/api/conversations/admin", "/api/conversations/admin", None, &[Astrologer]),
        case(Method::GET, "/api/conversations/admin/messages", "/api/conversations/admin/messages", None, &[Astrologer]),
        case(Method::POST, "/api/conversations/admin/messages", "/api/conversations/admin/messages", Some(json!({ "content": "hi" })), &[Astrologer]),
        case(Method::GET, "/api/messages", format!("/api/messages?conversationId={ghost}"), None, PARTICIPANTS),
        case(Method::POST, "/api/messages", "/api/messages", Some(json!({ "conversationId": ghost, "text": "hi" })), PARTICIPANTS),
        case(Method::GET, "/api/messages/search", "/api/messages/search?q=hello", None, PARTICIPANTS),
        case(Method::PATCH, "/api/messages/{id}", format!("/api/messages/{ghost}"), Some(json!({ "text": "hi" })), PARTICIPANTS),
        case(Method::DELETE, "/api/messages/{id}", format!("/api/messages/{ghost}"), None, PARTICIPANTS),
        case(Method::POST, "/api/messages/{id}/reactions", format!("/api/messages/{ghost}/reactions"), Some(json!({ "emoji": "+1" })), PARTICIPANTS),
        case(Method::POST, "/api/messages/{id}/forward", format!("/api/messages/{ghost}/forward"), Some(json!({ "conversationId": ghost })), PARTICIPANTS),
        case(Method::POST, "/api/messages/upload", "/api/messages/upload", None, PARTICIPANTS),
        case(Method::POST, "/api/messages/voice", "/api/messages/voice", None, PARTICIPANTS),
        case(Method::POST, "/api/files/upload", "/api/files/upload", None, PARTICIPANTS),
        case(Method::GET, "/api/notifications", "/api/notifications", None, PARTICIPANTS),
        case(Method::GET, "/api/notifications/unread-count", "/api/notifications/unread-count", None, PARTICIPANTS),
        case(Method::GET, "/api/notifications/preferences", "/api/notifications/preferences", None, PARTICIPANTS),
        case(Method::PUT, "/api/notifications/preferences", "/api/notifications/preferences", Some(json!({ "push": "all" })), PARTICIPANTS),
        case(Method::PUT, "/api/notifications/read-all", "/api/notifications/read-all", None, PARTICIPANTS),
        case(Method::PUT, "/api/notifications/{id}/read", format!("/api/notifications/{ghost}/read"), None, PARTICIPANTS),
        case(Method::DELETE, "/api/notifications/{id}", format!("/api/notifications/{ghost}"), None, PARTICIPANTS),
        case(Method::POST, "/api/devices", "/api/devices", Some(json!({ "platform": "fcm", "token": "t" })), PARTICIPANTS),
        case(Method::GET, "/api/devices", "/api/devices", None, PARTICIPANTS),
        case(Method::DELETE, "/api/devices/{id}", format!("/api/devices/{ghost}"), None, PARTICIPANTS),
        case(Method::GET, "/api/files/{id}", format!("/api/files/{ghost}"), None, PARTICIPANTS),
        case(Method::DELETE, "/api/files/{id}", format!("/api/files/{ghost}"), None, PARTICIPANTS),
        case(Method::GET, "/api/files/{id}/content", format!("/api/files/{ghost}/content?t={ghost}&e=1&s=x"), None, EVERYONE),
        case(Method::GET, "/api/files/{id}/thumbnail", format!("/api/files/{ghost}/thumbnail?size=small&t={ghost}&e=1&s=x"), None, EVERYONE),
        case(Method::POST, "/api/consultations", "/api/consultations", Some(json!({ "userId": ghost, "astrologerId": ghost })), ADMIN),
        case(Method::GET, "/api/consultations", "/api/consultations", None, PARTICIPANTS),
        case(Method::PATCH, "/api/consultations/{id}", format!("/api/consultations/{ghost}"), Some(json!({ "status": "completed" })), ADMIN),
        case(Method::POST, "/api/chat-requests", "/api/chat-requests", Some(json!({ "to": ghost })), &[Astrologer, User]),
        case(Method::GET, "/api/chat-requests", "/api/chat-requests", None, PARTICIPANTS),
        case(Method::POST, "/api/chat-requests/{id}/accept", format!("/api/chat-requests/{ghost}/accept"), Some(json!({})), &[Astrologer, User]),
        case(Method::POST, "/api/chat-requests/{id}/decline", format!("/api/chat-requests/{ghost}/decline"), Some(json!({})), &[Astrologer, User]),
        case(Method::POST, "/api/contacts/sync", "/api/contacts/sync", Some(json!({ "phones": ["+919812345678"] })), PARTICIPANTS),
        case(Method::POST, "/api/contacts/start-chat", "/api/contacts/start-chat", Some(json!({ "participantId": ghost })), PARTICIPANTS),
        case(Method::POST, "/api/blocks", "/api/blocks", Some(json!({ "participantId": ghost })), PARTICIPANTS),
        case(Method::GET, "/api/blocks", "/api/blocks", None, PARTICIPANTS),
        case(Method::DELETE, "/api/blocks/{participantId}", format!("/api/blocks/{ghost}"), None, PARTICIPANTS),
        case(Method::POST, "/api/calls/initiate", "/api/calls/initiate", Some(json!({ "calleeId": ghost })), PARTICIPANTS),
        case(Method::POST, "/api/admin/calls/initiate", "/api/admin/calls/initiate", Some(json!({ "astrologerId": ghost })), ADMIN),
        case(Method::POST, "/api/calls/{id}/accept", format!("/api/calls/{ghost}/accept"), Some(json!({})), PARTICIPANTS),
        case(Method::POST, "/api/calls/{id}/reject", format!("/api/calls/{ghost}/reject"), Some(json!({})), PARTICIPANTS),
        case(Method::POST, "/api/calls/{id}/end", format!("/api/calls/{ghost}/end"), Some(json!({})), PARTICIPANTS),
        case(Method::POST, "/api/calls/{id}/token", format!("/api/calls/{ghost}/token"), Some(json!({})), PARTICIPANTS),
        case(Method::POST, "/api/calls/admin/token", "/api/calls/admin/token", Some(json!({})), ADMIN),
        case(Method::GET, "/api/calls/history", "/api/calls/history", None, PARTICIPANTS),
        case(Method::GET, "/api/calls/{id}", format!("/api/calls/{ghost}"), None, PARTICIPANTS),
        case(Method::GET, "/api/settings/agora", "/api/settings/agora", None, ADMIN),
        case(Method::PUT, "/api/settings/agora", "/api/settings/agora", Some(json!({ "appId": "970CA35de60c44645bbae8a215061b33", "appCertificate": "5CFd2fd1755d40ecb72977518be15d3b" })), ADMIN),
        case(Method::DELETE, "/api/settings/agora", "/api/settings/agora", None, ADMIN),
        case(Method::GET, "/api/settings/push", "/api/settings/push", None, ADMIN),
        case(Method::PUT, "/api/settings/push/fcm", "/api/settings/push/fcm", Some(json!({ "serviceAccount": "{}" })), ADMIN),
        case(Method::PUT, "/api/settings/push/apns", "/api/settings/push/apns", Some(json!({ "teamId": "T", "keyId": "K", "bundleId": "b", "key": "k" })), ADMIN),
        case(Method::DELETE, "/api/settings/push/fcm", "/api/settings/push/fcm", None, ADMIN),
        case(Method::DELETE, "/api/settings/push/apns", "/api/settings/push/apns", None, ADMIN),
        case(Method::GET, "/api/push/deliveries", "/api/push/deliveries", None, ADMIN),
        case(Method::POST, "/api/notifications/broadcast", "/api/notifications/broadcast", Some(json!({ "audience": "participant", "participantId": ghost, "body": "x" })), ADMIN),
        case(Method::GET, "/api/users/me/export", "/api/users/me/export", None, PARTICIPANTS),
        case(Method::POST, "/api/users/me/erasure-request", "/api/users/me/erasure-request", Some(json!({})), PARTICIPANTS),
        case(Method::GET, "/api/participants/{id}/export", format!("/api/participants/{ghost}/export"), None, ADMIN),
        case(Method::POST, "/api/participants/{id}/erase", format!("/api/participants/{ghost}/erase"), Some(json!({})), ADMIN),
        case(Method::GET, "/api/erasure-requests", "/api/erasure-requests", None, ADMIN),
        case(Method::POST, "/api/erasure-requests/{id}/decline", format!("/api/erasure-requests/{ghost}/decline"), Some(json!({})), ADMIN),
        case(Method::POST, "/api/reports", "/api/reports", Some(json!({ "participantId": ghost, "reason": "spam" })), PARTICIPANTS),
        case(Method::GET, "/api/reports", "/api/reports", None, ADMIN),
        case(Method::GET, "/api/reports/{id}", format!("/api/reports/{ghost}"), None, ADMIN),
        case(Method::POST, "/api/reports/{id}/dismiss", format!("/api/reports/{ghost}/dismiss"), Some(json!({})), ADMIN),
        case(Method::POST, "/api/reports/{id}/block-participant", format!("/api/reports/{ghost}/block-participant"), Some(json!({})), ADMIN),
        case(Method::POST, "/api/reports/{id}/delete-message", format!("/api/reports/{ghost}/delete-message"), Some(json!({})), ADMIN),
        case(Method::GET, "/api/moderation/contact-flags", "/api/moderation/contact-flags", None, ADMIN),
        case(Method::GET, "/api/webhooks/event-types", "/api/webhooks/event-types", None, ADMIN),
        case(Method::GET, "/api/webhooks", "/api/webhooks", None, ADMIN),
        case(Method::POST, "/api/webhooks", "/api/webhooks", Some(json!({ "url": "https://hooks.example.com/x", "eventTypes": ["message.created"] })), ADMIN),
        case(Method::GET, "/api/webhooks/{id}", format!("/api/webhooks/{ghost}"), None, ADMIN),
        case(Method::PATCH, "/api/webhooks/{id}", format!("/api/webhooks/{ghost}"), Some(json!({ "enabled": false })), ADMIN),
        case(Method::DELETE, "/api/webhooks/{id}", format!("/api/webhooks/{ghost}"), None, ADMIN),
        case(Method::POST, "/api/webhooks/{id}/secret", format!("/api/webhooks/{ghost}/secret"), Some(json!({})), ADMIN),
        case(Method::GET, "/api/webhooks/{id}/deliveries", format!("/api/webhooks/{ghost}/deliveries"), None, ADMIN),
        case(Method::POST, "/api/webhooks/{id}/deliveries/{delivery_id}/resend", format!("/api/webhooks/{ghost}/deliveries/{ghost}/resend"), Some(json!({})), ADMIN),
    ];
    // Backend1's direct paths: each `/api` operation under them, without `/api`.
    let direct: Vec<Case> = cases
        .iter()
        .filter_map(|c| {
            let template = c.template.strip_prefix("/api")?;
            let path = c.path.strip_prefix("/api")?;
            is_direct(template)
                .then(|| case(c.method.clone(), template, path, c.body.clone(), c.allowed))
        })
        .collect();
    assert!(direct.len() >= 20, "direct paths: {}", direct.len());
    cases.extend(direct);
    // Creating tenants needs a fresh slug per call.
    let creates: Vec<Case> = (0..EVERYONE.len())
        .map(|n| {
            let body = json!({ "slug": format!("made-{n}"), "name": "Made", "adminEmail": "a@made.test", "adminPassword": PASSWORD });
            case(Method::POST, "/api/platform/tenants", "/api/platform/tenants", Some(body), SUPERADMIN)
        })
        .collect();
    // These end sessions: each role calls them with a fresh login.
    #[rustfmt::skip]
    let enders = vec![
        case(Method::POST, "/api/auth/logout", "/api/auth/logout", Some(json!({})), LOGGED_IN),
        case(Method::POST, "/api/auth/logout-all", "/api/auth/logout-all", Some(json!({})), LOGGED_IN),
    ];

    let spec: Value = serde_json::from_str(&samvad::api::spec_json()).unwrap();
    let in_spec: BTreeSet<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let in_matrix: BTreeSet<String> = cases
        .iter()
        .chain(&creates)
        .chain(&enders)
        .map(|c| format!("{} {}", c.method, c.template))
        .collect();
    assert_eq!(
        in_spec, in_matrix,
        "the matrix must list exactly the endpoints of the spec"
    );

    let mut failures = vec![];
    let mut call = async |c: &Case, who: Who, token: Option<&str>| {
        let res = app
            .call(c.method.clone(), &c.path, token, c.body.clone())
            .await;
        if !as_expected(c, who, res.status.as_u16(), &res.body) {
            let expected = if c.allowed.contains(&who) {
                "allowed"
            } else {
                "denied"
            };
            failures.push(format!(
                "{who:?} {} {}: expected {expected}, got {} {}",
                c.method, c.path, res.status, res.body
            ));
        }
    };
    for c in &cases {
        for &who in EVERYONE {
            call(c, who, tokens.of(who)).await;
        }
    }
    for (c, &who) in creates.iter().zip(EVERYONE) {
        call(c, who, tokens.of(who)).await;
    }
    for c in &enders {
        let fresh = Tokens::login(&app, &acme).await;
        for &who in EVERYONE {
            call(c, who, fresh.of(who)).await;
        }
    }
    assert!(
        failures.is_empty(),
        "policy matrix failures:\n{}",
        failures.join("\n")
    );
}
