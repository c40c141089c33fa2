//! A tenant's allowed origins: validated and normalised in settings; a
//! browser request (it carries `Origin`) from any other origin is refused
//! with 403 `origin_not_allowed` wherever the tenant is known (logins,
//! codes, links, tokens, API keys, refresh); requests without `Origin`
//! (mobile and desktop apps, servers) are untouched. One tenant's list
//! never opens another tenant's door, nor the platform's. With a
//! server-wide CORS list, CORS lets in the origins tenants list, and the
//! server's own (the console's forms). Socket.IO: tests/e2e/origins.

use reqwest::{Method, StatusCode, header};
use samvad::config::CorsOrigins;
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, Res, TestApp},
    outbox::Outbox,
};

const APP: &str = "https://app.acme.example";
const EVIL: &str = "https://evil.example";

/// Sends `body` (JSON) with an optional bearer token, API key and `Origin`.
async fn from(
    app: &TestApp,
    origin: Option<&str>,
    method: Method,
    path: &str,
    auth: Auth<'_>,
    body: Option<Value>,
) -> Res {
    let mut request = app.raw(method, path);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request = match auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Key(key) => request.header("x-api-key", key),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

/// Sets the admin's tenant's allowed origins; returns the stored list.
async fn set_origins(app: &TestApp, admin: &str, origins: Value) -> Value {
    let res = app
        .patch("/api/settings", admin, json!({ "allowedOrigins": origins }))
        .await;
    res.data()["allowedOrigins"].clone()
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Key(&'a str),
}

#[tokio::test]
async fn allowed_origins_are_validated_normalised_and_cleared() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("acme").await;
    let admin = app.login_admin(&tenant).await;

    let res = app.get("/api/settings", &admin.access).await;
    assert_eq!(res.data()["allowedOrigins"], json!([]), "none by default");

    let stored = set_origins(
        &app,
        &admin.access,
        json!(["https://App.Acme.example/", "http://localhost:3000", APP]),
    )
    .await;
    assert_eq!(
        stored,
        json!([APP, "http://localhost:3000"]),
        "lower-cased, without the slash, once each"
    );
    let untouched = app
        .patch(
            "/api/settings",
            &admin.access,
            json!({ "otpTtlSeconds": 120 }),
        )
        .await;
    assert_eq!(
        untouched.data()["allowedOrigins"].as_array().unwrap().len(),
        2
    );

    let too_many: Vec<String> = (0..51).map(|i| format!("https://a{i}.example")).collect();
    for bad in [
        json!(["*"]),
        json!(["app.acme.example"]),
        json!(["https://app.acme.example/path"]),
        json!(["ftp://app.acme.example"]),
        json!([""]),
        json!(too_many),
        json!("https://app.acme.example"),
    ] {
        let res = app
            .patch(
                "/api/settings",
                &admin.access,
                json!({ "allowedOrigins": bad }),
            )
            .await;
        assert!(
            matches!(res.status.as_u16(), 400 | 422),
            "{bad}: {} {}",
            res.status,
            res.body
        );
        assert_eq!(res.body["success"], json!(false));
    }

    assert_eq!(set_origins(&app, &admin.access, json!([])).await, json!([]));
    let log = app
        .get("/api/audit-log?action=settings.update", &admin.access)
        .await;
    assert_eq!(log.data()["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_listed_origin_is_served_another_is_refused_and_apps_without_origin_are_untouched() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let admin = app.login_admin(&acme).await;
    let key = app
        .post(
            "/api/api-keys",
            Some(&admin.access),
            json!({ "name": "site", "scopes": ["read"] }),
        )
        .await
        .data()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    set_origins(&app, &admin.access, json!([APP])).await;

    let login = json!({ "tenant": "acme", "email": acme.admin_email, "password": PASSWORD });
    let post = |origin, path: &'static str, body: Value| {
        from(&app, origin, Method::POST, path, Auth::None, Some(body))
    };

    // Sign-in and everything else that names the tenant by slug.
    post(Some(EVIL), "/api/auth/login", login.clone())
        .await
        .assert_error(403, "origin_not_allowed");
    post(Some("null"), "/auth/login", login.clone())
        .await
        .assert_error(403, "origin_not_allowed");
    for (path, body) in [
        (
            "/api/auth/register",
            json!({ "tenant": "acme", "name": "Ravi", "email": "ravi@mail.test", "password": "long enough 1" }),
        ),
        (
            "/api/auth/forgot-password",
            json!({ "tenant": "acme", "email": acme.admin_email }),
        ),
        (
            "/api/auth/send-otp",
            json!({ "tenant": "acme", "email": "new@mail.test" }),
        ),
        (
            "/api/auth/verify-otp-login",
            json!({ "tenant": "acme", "email": "new@mail.test", "code": "123456" }),
        ),
        (
            "/api/auth/verify-otp-register",
            json!({ "tenant": "acme", "email": "new@mail.test", "code": "123456" }),
        ),
    ] {
        post(Some(EVIL), path, body)
            .await
            .assert_error(403, "origin_not_allowed");
    }
    let in_app = post(Some(APP), "/api/auth/login", login.clone()).await;
    assert_eq!(in_app.status, StatusCode::OK, "{}", in_app.body);
    let mobile = post(None, "/api/auth/login", login.clone()).await;
    let access = mobile.data()["accessToken"].as_str().unwrap().to_owned();
    let refresh = mobile.data()["refreshToken"].as_str().unwrap().to_owned();

    // Tokens and keys: the tenant comes from them.
    let me = |origin, auth| from(&app, origin, Method::GET, "/api/auth/me", auth, None);
    me(Some(EVIL), Auth::Bearer(&access))
        .await
        .assert_error(403, "origin_not_allowed");
    assert_eq!(me(Some(APP), Auth::Bearer(&access)).await.status, 200);
    assert_eq!(me(None, Auth::Bearer(&access)).await.status, 200);
    let users = |origin| {
        from(
            &app,
            origin,
            Method::GET,
            "/api/participants",
            Auth::Key(&key),
            None,
        )
    };
    users(Some(EVIL))
        .await
        .assert_error(403, "origin_not_allowed");
    assert_eq!(users(Some(APP)).await.status, 200);

    // A refused refresh does not spend the refresh token.
    let body = json!({ "refreshToken": refresh });
    post(Some(EVIL), "/api/auth/refresh", body.clone())
        .await
        .assert_error(403, "origin_not_allowed");
    let refreshed = post(Some(APP), "/api/auth/refresh", body).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);

    // Credentials are still checked first: a bad token is a 401, not a 403.
    me(Some(EVIL), Auth::Bearer("garbage"))
        .await
        .assert_error(401, "invalid_token");

    // Another tenant without a list takes any origin; acme's list is acme's.
    let res = post(
        Some(EVIL),
        "/api/auth/login",
        json!({ "tenant": "other", "email": other.admin_email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);

    // Clearing the list lifts the restriction at once.
    set_origins(&app, &admin.access, json!([])).await;
    assert_eq!(me(Some(EVIL), Auth::Bearer(&access)).await.status, 200);
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.raw(Method::OPTIONS, "/api/auth/login")
        .header(header::ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn with_a_server_cors_list_tenants_origins_and_the_servers_own_are_let_in() {
    let app = TestApp::spawn_with(|config| {
        config.cors_origins = CorsOrigins::List(vec!["https://ops.example".into()]);
    })
    .await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let admin = app.login_admin(&acme).await;
    let other_admin = app.login_admin(&other).await;
    let root = app.superadmin().await;

    let allowed = |res: &reqwest::Response| {
        res.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let res = preflight(&app, "https://ops.example").await;
    assert_eq!(res.status(), 200);
    assert_eq!(allowed(&res).as_deref(), Some("https://ops.example"));
    let res = preflight(&app, APP).await;
    assert_eq!(res.status(), 403, "not listed anywhere yet");
    assert_eq!(allowed(&res), None);

    set_origins(&app, &admin.access, json!([APP])).await;
    let res = preflight(&app, APP).await;
    assert_eq!(res.status(), 200, "a tenant lists it now");
    assert_eq!(allowed(&res).as_deref(), Some(APP));
    let res = preflight(&app, EVIL).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], json!(false), "refusals keep the envelope");

    // acme's list opens acme's door only: CORS lets APP through, but
    // another tenant and the platform still refuse it.
    let post = |origin, path: &'static str, body: Value| {
        from(&app, origin, Method::POST, path, Auth::None, Some(body))
    };
    let login = |tenant: &str, email: &str| json!({ "tenant": tenant, "email": email, "password": PASSWORD });
    post(
        Some(APP),
        "/api/auth/login",
        login("other", &other.admin_email),
    )
    .await
    .assert_error(403, "origin_not_allowed");
    let me = |origin, token| {
        from(
            &app,
            origin,
            Method::GET,
            "/api/auth/me",
            Auth::Bearer(token),
            None,
        )
    };
    me(Some(APP), &other_admin.access)
        .await
        .assert_error(403, "origin_not_allowed");
    assert_eq!(
        me(Some("https://ops.example"), &other_admin.access)
            .await
            .status,
        200
    );
    post(
        Some(APP),
        "/api/platform/login",
        json!({ "email": "root@platform.test", "password": PASSWORD }),
    )
    .await
    .assert_error(403, "origin_not_allowed");
    from(
        &app,
        Some(APP),
        Method::GET,
        "/api/platform/tenants",
        Auth::Bearer(&root.access),
        None,
    )
    .await
    .assert_error(403, "origin_not_allowed");
    // A tenant with a list takes its list (and the server's own pages), not
    // the server's.
    let acme_login = login("acme", &acme.admin_email);
    post(
        Some("https://ops.example"),
        "/api/auth/login",
        acme_login.clone(),
    )
    .await
    .assert_error(403, "origin_not_allowed");
    for origin in [APP, app.base.as_str()] {
        let res = post(Some(origin), "/api/auth/login", acme_login.clone()).await;
        assert_eq!(res.status, 200, "{origin}: {}", res.body);
    }

    // The console's own forms send the server's origin.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = browser
        .post(app.url("/console/login"))
        .header(header::ORIGIN, &app.base)
        .form(&[
            ("tenant", "acme"),
            ("email", acme.admin_email.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the console is served to its own origin");
    assert!(res.headers().get(header::SET_COOKIE).is_some(), "signed in");

    // A restart reads every tenant's list back from MySQL.
    let app = app.restart().await;
    assert_eq!(preflight(&app, APP).await.status(), 200);
}

#[tokio::test]
async fn an_emailed_link_used_from_a_refused_origin_stays_unspent() {
    let outbox = Outbox::start().await;
    let app = TestApp::spawn_with(|c| outbox.configure(c)).await;
    let acme = app.tenant("acme").await;
    let admin = app.login_admin(&acme).await;
    set_origins(&app, &admin.access, json!([APP])).await;
    app.post(
        "/api/auth/forgot-password",
        None,
        json!({ "tenant": "acme", "email": acme.admin_email }),
    )
    .await
    .data();
    let link = outbox.mail.next().await.link("/account/reset-password");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let body = json!({ "token": token, "password": "new password 1" });
    let reset = |origin| {
        from(
            &app,
            origin,
            Method::POST,
            "/api/auth/reset-password",
            Auth::None,
            Some(body.clone()),
        )
    };
    reset(Some(EVIL))
        .await
        .assert_error(403, "origin_not_allowed");
    let res = reset(Some(APP)).await;
    assert_eq!(res.status, 200, "the link still works: {}", res.body);
}
