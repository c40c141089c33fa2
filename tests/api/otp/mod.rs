//! One-time codes by SMS (a signed webhook to a gateway) and by email (a
//! real SMTP server in this process). `login`: logging in by code, and saying
//! nothing about accounts or deliveries. `register`: registering by code.
//! `limits`: tries, expiry, reuse, other tenants, cooldowns and races.

mod limits;
mod login;
mod register;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant};

/// Creates a user with a phone (by the admin) and returns the phone.
async fn user_with_phone(app: &TestApp, tenant: &TestTenant, phone: &str) {
    let admin = app.login_admin(tenant).await;
    let body = json!({ "type": "user", "name": "Phone User", "phone": phone });
    app.post("/api/participants", Some(&admin.access), body)
        .await
        .data();
}

fn verify_body(tenant: &str, phone: &str, code: &str) -> Value {
    json!({ "tenant": tenant, "phone": phone, "code": code, "deviceName": "Pixel" })
}
