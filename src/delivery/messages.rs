//! What Samvad sends, rendered from the askama templates in
//! `templates/email/` (HTML escaped, text as is), always naming the tenant.

use askama::Template;

use super::EmailMessage;
use crate::error::{AppError, AppResult};

#[derive(Template)]
#[template(path = "email/otp.html")]
struct OtpHtml<'a> {
    tenant: &'a str,
    code: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "email/otp.txt")]
struct OtpText<'a> {
    tenant: &'a str,
    code: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "email/verify_email.html")]
struct VerifyHtml<'a> {
    tenant: &'a str,
    link: &'a str,
    hours: u32,
}

#[derive(Template)]
#[template(path = "email/verify_email.txt")]
struct VerifyText<'a> {
    tenant: &'a str,
    link: &'a str,
    hours: u32,
}

#[derive(Template)]
#[template(path = "email/reset_password.html")]
struct ResetHtml<'a> {
    tenant: &'a str,
    name: &'a str,
    link: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "email/reset_password.txt")]
struct ResetText<'a> {
    tenant: &'a str,
    name: &'a str,
    link: &'a str,
    minutes: u32,
}

/// One conversation in a digest: who wrote last, how many messages wait,
/// and the newest one's text (`None` when the tenant hides message text).
#[derive(Debug, Clone)]
pub struct DigestLine {
    pub sender: String,
    pub count: u32,
    pub preview: Option<String>,
}

#[derive(Template)]
#[template(path = "email/digest.html")]
struct DigestHtml<'a> {
    tenant: &'a str,
    unread: u32,
    lines: &'a [DigestLine],
    more: usize,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/digest.txt")]
struct DigestText<'a> {
    tenant: &'a str,
    unread: u32,
    lines: &'a [DigestLine],
    more: usize,
    link: &'a str,
}

fn render(template: &impl Template) -> AppResult<String> {
    template
        .render()
        .map_err(|err| AppError::Internal(anyhow::anyhow!("rendering an email failed: {err}")))
}

/// A one-time code by email.
pub fn otp_email(tenant: &str, code: &str, minutes: u32) -> AppResult<EmailMessage> {
    Ok(EmailMessage {
        subject: format!("{code} is your {tenant} code"),
        text: render(&OtpText {
            tenant,
            code,
            minutes,
        })?,
        html: render(&OtpHtml {
            tenant,
            code,
            minutes,
        })?,
    })
}

/// A one-time code by SMS.
pub fn otp_sms(tenant: &str, code: &str, minutes: u32) -> String {
    format!("{code} is your {tenant} code. It expires in {minutes} min. Never share it.")
}

/// The link that confirms an email address. It carries no text of the
/// registrant's (a name chosen by a stranger would go out under the
/// tenant's brand).
pub fn verify_email(tenant: &str, link: &str, hours: u32) -> AppResult<EmailMessage> {
    Ok(EmailMessage {
        subject: format!("Confirm your email for {tenant}"),
        text: render(&VerifyText {
            tenant,
            link,
            hours,
        })?,
        html: render(&VerifyHtml {
            tenant,
            link,
            hours,
        })?,
    })
}

/// The link that resets a password.
pub fn reset_password(
    tenant: &str,
    name: &str,
    link: &str,
    minutes: u32,
) -> AppResult<EmailMessage> {
    Ok(EmailMessage {
        subject: format!("Reset your {tenant} password"),
        text: render(&ResetText {
            tenant,
            name,
            link,
            minutes,
        })?,
        html: render(&ResetHtml {
            tenant,
            name,
            link,
            minutes,
        })?,
    })
}

/// A digest of unread messages: `unread` in all, `lines` for the newest
/// conversations and `more` conversations left out, with a link to the app.
pub fn digest_email(
    tenant: &str,
    unread: u32,
    lines: &[DigestLine],
    more: usize,
    link: &str,
) -> AppResult<EmailMessage> {
    let noun = if unread == 1 { "message" } else { "messages" };
    Ok(EmailMessage {
        subject: format!("You have {unread} unread {noun} on {tenant}"),
        text: render(&DigestText {
            tenant,
            unread,
            lines,
            more,
            link,
        })?,
        html: render(&DigestHtml {
            tenant,
            unread,
            lines,
            more,
            link,
        })?,
    })
}

#[derive(Template)]
#[template(path = "email/webhook_disabled.html")]
struct WebhookDisabledHtml<'a> {
    tenant: &'a str,
    url: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "email/webhook_disabled.txt")]
struct WebhookDisabledText<'a> {
    tenant: &'a str,
    url: &'a str,
    reason: &'a str,
}

/// To a tenant's admins: Samvad turned one of their webhook endpoints off.
pub fn webhook_disabled_email(tenant: &str, url: &str, reason: &str) -> AppResult<EmailMessage> {
    Ok(EmailMessage {
        subject: format!("{tenant}: a webhook endpoint was turned off"),
        text: render(&WebhookDisabledText {
            tenant,
            url,
            reason,
        })?,
        html: render(&WebhookDisabledHtml {
            tenant,
            url,
            reason,
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_name_the_tenant_and_carry_the_code() {
        let email = otp_email("Star Gazers", "123456", 5).unwrap();
        assert!(email.subject.contains("123456") && email.subject.contains("Star Gazers"));
        assert!(email.text.contains("123456") && email.html.contains("123456"));
        assert!(email.html.contains("Star Gazers"));
    }

    #[test]
    fn user_text_is_escaped_in_html_but_not_in_text() {
        let email = reset_password(
            "A&B <Astro>",
            "<script>x</script>",
            "https://h/v?t=1&u=2",
            24,
        )
        .unwrap();
        assert!(!email.html.contains("<script>x"));
        assert!(
            email.html.contains("&#60;script&#62;x"),
            "askama escapes < as &#60;"
        );
        assert!(email.text.contains("<script>x</script>"));
    }

    #[test]
    fn a_digest_counts_names_senders_and_escapes_previews_in_html() {
        let lines = [
            DigestLine {
                sender: "Uma".into(),
                count: 3,
                preview: Some("<b>hi</b>".into()),
            },
            DigestLine {
                sender: "Sam".into(),
                count: 1,
                preview: None,
            },
        ];
        let email = digest_email("Star Gazers", 4, &lines, 2, "https://chat.example").unwrap();
        assert_eq!(email.subject, "You have 4 unread messages on Star Gazers");
        assert!(
            email.text.contains("- Uma (3 messages): <b>hi</b>"),
            "{}",
            email.text
        );
        assert!(email.text.contains("- Sam (1 message)\n"), "{}", email.text);
        assert!(email.text.contains("And 2 more conversations."));
        assert!(email.text.contains("https://chat.example"));
        assert!(email.html.contains("&#60;b&#62;hi") && !email.html.contains("<b>hi"));
        assert!(email.html.contains("Star Gazers") && email.html.contains("Sam"));
        let one = digest_email("S", 1, &lines[1..], 0, "https://c").unwrap();
        assert_eq!(one.subject, "You have 1 unread message on S");
        assert!(!one.text.contains("more"));
    }
}
