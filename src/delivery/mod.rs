//! Getting messages to people: email (lettre over SMTP, or `.eml` files
//! under `data/mail/` in development) and SMS (an HTTP gateway webhook, or
//! a file under `data/sms/` in development). The core decides what to send;
//! this module renders and delivers it.

pub mod messages;
pub mod push;
mod sms;
pub mod webhook;

use std::path::Path;

use anyhow::Context;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};

pub use sms::{FileSms, Sms, SmsSender, WebhookSms, signature as sms_signature};

use crate::{
    config::Config,
    domain::values::{Email, Phone},
    error::{AppError, AppResult},
};

/// A rendered email: subject, plain text and HTML.
#[derive(Debug, Clone)]
pub struct EmailMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// Email and SMS delivery, chosen from the configuration.
pub struct Delivery {
    mailer: Mailer,
    from: Mailbox,
    sms: Box<dyn SmsSender>,
    push: push::Push,
    webhooks: webhook::WebhookSender,
}

impl Delivery {
    /// SMTP when `SAMVAD_SMTP_URL` is set, else files under `data/mail/`;
    /// the SMS webhook when configured, else `data/sms/outbox.jsonl`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .with_context(|| format!("SAMVAD_MAIL_FROM `{}` is not a mailbox", config.mail_from))?;
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("SAMVAD_SMTP_URL is not a valid SMTP URL")?
                    .build(),
            ),
            None => {
                let dir = config.data_dir.join("mail");
                create_dir(&dir)?;
                tracing::info!(dir = %dir.display(), "SAMVAD_SMTP_URL is not set: mail is written to files");
                Mailer::Files(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
        };
        let sms: Box<dyn SmsSender> = match &config.sms_webhook {
            Some(webhook) => Box::new(WebhookSms::new(webhook.url.clone(), webhook.secret.clone())),
            None => {
                let dir = config.data_dir.join("sms");
                create_dir(&dir)?;
                tracing::info!(dir = %dir.display(), "SAMVAD_SMS_WEBHOOK_URL is not set: SMS is written to a file");
                Box::new(FileSms::new(dir.join("outbox.jsonl")))
            }
        };
        let push = push::Push::new(push::PushEndpoints {
            fcm_url: config.push.fcm_url.clone(),
            apns_url: config.push.apns_url.clone(),
            outbox: (config.env != crate::config::Environment::Production)
                .then(|| config.data_dir.join("push").join("outbox.jsonl")),
        })?;
        Ok(Self {
            mailer,
            from,
            sms,
            push,
            webhooks: webhook::WebhookSender::new(config.webhooks.allow_private)?,
        })
    }

    /// Sends a multipart (text + HTML) email.
    pub async fn email(&self, to: &Email, message: EmailMessage) -> AppResult<()> {
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|err| AppError::validation(format!("cannot mail `{to}`: {err}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject)
            .multipart(MultiPart::alternative_plain_html(
                message.text,
                message.html,
            ))
            .map_err(|err| {
                AppError::Internal(anyhow::anyhow!("building an email failed: {err}"))
            })?;
        let sent = match &self.mailer {
            Mailer::Smtp(smtp) => smtp
                .send(email)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from),
            Mailer::Files(files) => files
                .send(email)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from),
        };
        sent.map_err(|err| {
            tracing::error!(error = %err, "email delivery failed");
            AppError::Unavailable("the email could not be sent; try again shortly".into())
        })
    }

    /// The push providers.
    pub fn push(&self) -> &push::Push {
        &self.push
    }

    /// Webhooks to tenants' URLs.
    pub fn webhooks(&self) -> &webhook::WebhookSender {
        &self.webhooks
    }

    /// Sends a text message.
    pub async fn sms(&self, tenant: &str, to: &Phone, text: String) -> AppResult<()> {
        let sms = Sms {
            tenant: tenant.to_owned(),
            to: to.to_string(),
            text,
        };
        self.sms.send(&sms).await.map_err(|err| {
            tracing::error!(error = %err, "SMS delivery failed");
            AppError::Unavailable("the SMS could not be sent; try again shortly".into())
        })
    }
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}
