//! Development convenience: on an empty database, `serve` in dev mode
//! creates a `demo` tenant with an admin, an astrologer and a user, and
//! prints how to log in. Never runs with `SAMVAD_ENV=production`.

use crate::{
    domain::{
        Core,
        participant::{ParticipantInput, ParticipantType},
        tenant::NewTenant,
        values::{Email, Name, Password, Slug},
    },
    error::{AppError, AppResult},
};

/// The demo tenant's slug.
pub const SLUG: &str = "demo";
/// The password of every demo account (development only).
pub const PASSWORD: &str = "samvad-demo";

/// Demo accounts: (type, name, email).
const ACCOUNTS: [(ParticipantType, &str, &str); 2] = [
    (
        ParticipantType::Astrologer,
        "Demo Astrologer",
        "astrologer@demo.test",
    ),
    (ParticipantType::User, "Demo User", "user@demo.test"),
];
const ADMIN_EMAIL: &str = "admin@demo.test";

/// Creates the demo tenant when no tenant exists (true when it did), and
/// completes a demo left half-made by an interrupted start.
pub async fn seed_if_empty(core: &Core) -> AppResult<bool> {
    let password = Password::parse(PASSWORD)?;
    let (tenant, created) = match core.tenant_by_slug(SLUG).await? {
        Some(tenant) => (tenant, false),
        None if core.tenants(None, 1).await?.items.is_empty() => {
            let new = NewTenant {
                slug: Slug::parse(SLUG)?,
                name: Name::parse("Demo Astrology")?,
                admin_email: Email::parse(ADMIN_EMAIL)?,
                admin_password: password.clone(),
                admin_name: Some(Name::parse("Demo Admin")?),
            };
            (core.create_tenant(None, new).await?.0, true)
        }
        None => return Ok(false),
    };
    for (kind, name, email) in ACCOUNTS {
        let input = ParticipantInput {
            kind,
            name: Name::parse(name)?,
            email: Some(Email::parse(email)?),
            phone: None,
            password: Some(password.clone()),
            legacy_id: None,
        };
        match core.create_participant(None, tenant.id, input).await {
            Ok(_) => {}
            Err(AppError::Conflict {
                code: "email_taken",
                ..
            }) => {} // already there
            Err(err) => return Err(err),
        }
    }
    Ok(created)
}

/// How to log in to the demo tenant, for the start-up banner.
pub fn login_hint(base_url: &str) -> String {
    let emails: Vec<&str> = std::iter::once(ADMIN_EMAIL)
        .chain(ACCOUNTS.iter().map(|(_, _, email)| *email))
        .collect();
    format!(
        "demo tenant `{SLUG}`: log in as {} with password `{PASSWORD}`\n  \
         curl -s {base_url}/api/auth/login -H 'content-type: application/json' \
         -d '{{\"tenant\":\"{SLUG}\",\"email\":\"{ADMIN_EMAIL}\",\"password\":\"{PASSWORD}\"}}'\n  \
         API docs: {base_url}/api/docs",
        emails.join(", ")
    )
}
