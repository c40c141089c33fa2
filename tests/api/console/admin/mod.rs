//! The console's administration pages: participants, policies, settings,
//! audit log and tenants. Their tests use a `FormBrowser`: signed in when
//! made, it adds the session's CSRF token to every form it posts.
//! `access`: who may see which page, CSRF. `participants`: escaping,
//! tenant isolation, form errors, editing. `settings`: policies, settings,
//! Agora and API keys.

mod access;
mod participants;
mod settings;

use reqwest::{Method, StatusCode, header};

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
struct FormBrowser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookie: Option<String>,
    csrf: String,
}

impl<'a> FormBrowser<'a> {
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
