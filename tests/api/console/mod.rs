//! The admin console over plain HTTP, as a browser without JavaScript sees
//! it. The client keeps the cookie itself and never follows redirects, so
//! each test sees every 303. `access`: signing in and out, who may not,
//! CSRF, the error page. `pages`: escaping, sending and closing from the
//! console, tenant isolation, the call history and its CSV. `admin`: the
//! administration pages (participants, policies, settings, audit, tenants).
//! `media`: photos, voice notes and files in a conversation, through signed
//! links, and the storage used on the dashboard. `cluster`: the live view
//! and the dashboard of one node show what happens on the others.

mod access;
mod admin;
mod cluster;
mod media;
mod moderation;
mod pages;
mod push;
mod webhooks;

use reqwest::{Method, StatusCode, header, redirect};

use crate::helpers::{PASSWORD, TestApp, TestTenant};

struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.body))
    }

    /// The `samvad_console` value set by this answer, if any.
    fn cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("samvad_console="))
            .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
    }

    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no _csrf field in: {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    fn request_id(&self) -> &str {
        self.headers["x-request-id"].to_str().unwrap()
    }

    fn assert_status(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
    }

    /// Asserts a 303 to `target`.
    fn assert_redirect(&self, target: &str) {
        self.assert_status(303);
        assert_eq!(self.location(), target);
    }
}

/// A browser with one cookie jar slot and no redirects followed.
struct Browser {
    base: String,
    client: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(&self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, format!("samvad_console={cookie}"));
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.expect("console request");
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// A `GET` whose body is read as it comes (server-sent events).
    async fn stream(&self, path: &str) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, format!("samvad_console={cookie}"));
        }
        let response = request.send().await.expect("console request");
        assert_eq!(response.status(), StatusCode::OK);
        response
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Posts the login form; keeps the cookie when one is set.
    async fn login(&mut self, tenant: &str, email: &str, password: &str) -> Page {
        let page = self
            .post(
                "/console/login",
                &[("tenant", tenant), ("email", email), ("password", password)],
            )
            .await;
        if let Some(cookie) = page.cookie() {
            self.cookie = Some(cookie);
        }
        page
    }

    /// A browser signed in as the tenant's admin.
    async fn admin(app: &TestApp, tenant: &TestTenant) -> Self {
        let mut browser = Self::new(app);
        browser
            .login(&tenant.slug, &tenant.admin_email, PASSWORD)
            .await
            .assert_redirect("/console");
        browser
    }

    /// The CSRF token of this session (read from the dashboard).
    async fn csrf(&self) -> String {
        let page = self.get("/console").await;
        page.assert_status(200);
        page.csrf()
    }
}

/// A tenant admin's browser that sends the session's CSRF token.
struct Admin {
    browser: Browser,
    csrf: String,
}

impl Admin {
    async fn new(app: &TestApp, tenant: &TestTenant) -> Self {
        let browser = Browser::admin(app, tenant).await;
        let csrf = browser.csrf().await;
        Self { browser, csrf }
    }

    async fn get(&self, path: &str) -> Page {
        self.browser.get(path).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut fields = vec![("_csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.browser.post(path, &fields).await
    }
}
