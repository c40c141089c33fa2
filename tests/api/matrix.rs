//! The role × endpoint matrix: every endpoint in the spec, called as every
//! role, is allowed or denied exactly as the default policy says. A new
//! endpoint fails this test until it is added to the table.

use std::collections::BTreeSet;

use reqwest::Method;
use samvad::domain::participant::ParticipantType;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

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

struct Case {
    method: Method,
    /// The spec's path template.
    template: &'static str,
    /// The path called (template filled in).
    path: String,
    body: Option<Value>,
    allowed: &'static [Who],
}

fn case(
    method: Method,
    template: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    allowed: &'static [Who],
) -> Case {
    Case {
        method,
        template,
        path: path.into(),
        body,
        allowed,
    }
}

#[tokio::test]
async fn every_endpoint_allows_and_denies_each_role_as_the_policy_says() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let victim = app.tenant("victim").await;
    let superadmin = app.superadmin().await;
    let admin = app.login_admin(&acme).await;
    let astrologer = app
        .participant_login(&acme, ParticipantType::Astrologer, "Asha")
        .await;
    let user = app
        .participant_login(&acme, ParticipantType::User, "Uma")
        .await;
    let (target, _) = app
        .participant(&acme, ParticipantType::User, "Target")
        .await;
    let slug = std::sync::atomic::AtomicUsize::new(0);
    let next_slug = || {
        format!(
            "made-{}",
            slug.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    };
    let user_login = json!({ "tenant": "acme", "email": "uma@acme.test", "password": PASSWORD });
    let root_login = json!({ "email": "root@platform.test", "password": PASSWORD });
    let rule = json!({ "role": "admin", "object": "participants", "action": "read" });

    let mut cases = vec![
        case(Method::GET, "/ping", "/ping", None, EVERYONE),
        case(Method::GET, "/health", "/health", None, EVERYONE),
        case(
            Method::POST,
            "/api/auth/login",
            "/api/auth/login",
            Some(user_login),
            EVERYONE,
        ),
        case(
            Method::POST,
            "/api/auth/refresh",
            "/api/auth/refresh",
            Some(json!({ "refreshToken": "x" })),
            EVERYONE,
        ),
        case(
            Method::GET,
            "/api/auth/me",
            "/api/auth/me",
            None,
            PARTICIPANTS,
        ),
        case(
            Method::POST,
            "/api/platform/login",
            "/api/platform/login",
            Some(root_login),
            EVERYONE,
        ),
        case(
            Method::GET,
            "/api/platform/me",
            "/api/platform/me",
            None,
            &[Superadmin],
        ),
        case(
            Method::GET,
            "/api/platform/tenants",
            "/api/platform/tenants",
            None,
            &[Superadmin],
        ),
        case(
            Method::GET,
            "/api/platform/tenants/{id}",
            format!("/api/platform/tenants/{}", victim.id),
            None,
            &[Superadmin],
        ),
        case(
            Method::POST,
            "/api/platform/tenants/{id}/suspend",
            format!("/api/platform/tenants/{}/suspend", victim.id),
            Some(json!({})),
            &[Superadmin],
        ),
        case(
            Method::POST,
            "/api/platform/tenants/{id}/resume",
            format!("/api/platform/tenants/{}/resume", victim.id),
            Some(json!({})),
            &[Superadmin],
        ),
        case(
            Method::GET,
            "/api/participants",
            "/api/participants",
            None,
            &[Admin],
        ),
        case(
            Method::POST,
            "/api/participants",
            "/api/participants",
            Some(json!({ "type": "user", "name": "New" })),
            &[Admin],
        ),
        case(
            Method::GET,
            "/api/participants/{id}",
            format!("/api/participants/{target}"),
            None,
            &[Admin],
        ),
        case(
            Method::PATCH,
            "/api/participants/{id}",
            format!("/api/participants/{target}"),
            Some(json!({ "status": "hi" })),
            &[Admin],
        ),
        case(
            Method::POST,
            "/api/participants/{id}/block",
            format!("/api/participants/{target}/block"),
            Some(json!({})),
            &[Admin],
        ),
        case(
            Method::POST,
            "/api/participants/{id}/unblock",
            format!("/api/participants/{target}/unblock"),
            Some(json!({})),
            &[Admin],
        ),
        case(Method::GET, "/api/users", "/api/users", None, PARTICIPANTS),
        case(
            Method::GET,
            "/api/users/search",
            "/api/users/search?q=a",
            None,
            PARTICIPANTS,
        ),
        case(
            Method::GET,
            "/api/users/by-ids",
            format!("/api/users/by-ids?ids={target}"),
            None,
            PARTICIPANTS,
        ),
        case(
            Method::GET,
            "/api/users/profile",
            "/api/users/profile",
            None,
            PARTICIPANTS,
        ),
        case(
            Method::GET,
            "/api/users/profile/{userId}",
            format!("/api/users/profile/{}", acme.admin_id),
            None,
            PARTICIPANTS,
        ),
        case(
            Method::PATCH,
            "/api/users/me",
            "/api/users/me",
            Some(json!({ "status": "here" })),
            PARTICIPANTS,
        ),
        case(
            Method::GET,
            "/api/policies",
            "/api/policies",
            None,
            &[Admin],
        ),
        case(
            Method::POST,
            "/api/policies",
            "/api/policies",
            Some(rule.clone()),
            &[Admin],
        ),
        case(
            Method::DELETE,
            "/api/policies",
            "/api/policies?role=user&object=audit&action=read",
            None,
            &[Admin],
        ),
        case(
            Method::POST,
            "/api/policies/check",
            "/api/policies/check",
            Some(rule),
            &[Admin],
        ),
        case(
            Method::GET,
            "/api/audit-log",
            "/api/audit-log",
            None,
            &[Admin],
        ),
    ];
    // Creating tenants needs a fresh slug per call; logout ends the sessions, so it runs last.
    let creates: Vec<Case> = EVERYONE
        .iter()
        .map(|_| {
            let body = json!({ "slug": next_slug(), "name": "Made", "adminEmail": "a@made.test", "adminPassword": PASSWORD });
            case(Method::POST, "/api/platform/tenants", "/api/platform/tenants", Some(body), &[Superadmin])
        })
        .collect();
    cases.push(case(
        Method::POST,
        "/api/auth/logout",
        "/api/auth/logout",
        Some(json!({})),
        LOGGED_IN,
    ));

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
        .map(|c| format!("{} {}", c.method, c.template))
        .collect();
    assert_eq!(
        in_spec, in_matrix,
        "the matrix must list exactly the endpoints of the spec"
    );

    let token = |who: Who| match who {
        Superadmin => Some(superadmin.access.as_str()),
        Admin => Some(admin.access.as_str()),
        Astrologer => Some(astrologer.access.as_str()),
        User => Some(user.access.as_str()),
        Anonymous => None,
    };
    let mut failures = vec![];
    let mut check = |c: &Case, who: Who, status: u16, body: &Value| {
        let code = body["error"]["code"].as_str().unwrap_or("");
        let allowed = c.allowed.contains(&who);
        let ok = if allowed {
            // Public endpoints may refuse bad credentials (401); others never.
            let refused_auth = status == 401 && (code == "unauthorized" || c.allowed != EVERYONE);
            status != 403 && !refused_auth
        } else if who == Anonymous {
            status == 401 && code == "unauthorized"
        } else {
            status == 403 && code == "forbidden"
        };
        if !ok {
            failures.push(format!(
                "{:?} {} {}: expected {}, got {status} {body}",
                who,
                c.method,
                c.path,
                if allowed { "allowed" } else { "denied" }
            ));
        }
    };
    let (logout, cases) = cases.split_last().unwrap();
    for c in cases {
        for &who in EVERYONE {
            let res = app
                .call(c.method.clone(), &c.path, token(who), c.body.clone())
                .await;
            check(c, who, res.status.as_u16(), &res.body);
        }
    }
    for (c, &who) in creates.iter().zip(EVERYONE) {
        let res = app
            .call(c.method.clone(), &c.path, token(who), c.body.clone())
            .await;
        check(c, who, res.status.as_u16(), &res.body);
    }
    for &who in EVERYONE {
        let res = app
            .call(
                logout.method.clone(),
                &logout.path,
                token(who),
                logout.body.clone(),
            )
            .await;
        check(logout, who, res.status.as_u16(), &res.body);
    }
    assert!(
        failures.is_empty(),
        "policy matrix failures:\n{}",
        failures.join("\n")
    );
}
