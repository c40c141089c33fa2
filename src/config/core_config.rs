//! The core's configuration ([`CoreConfig`]), derived from the process
//! configuration here, beside what it is derived from, so that the core
//! never imports `config`.

use anyhow::Context;

use super::{Config, parse_key};
use crate::{
    domain::{
        CoreConfig,
        file::{Files, Links},
        values::Origin,
    },
    storage::Storage,
};

impl CoreConfig {
    /// Derives the core's configuration from the process configuration.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(config.jwt_secret.expose().as_bytes())
            .map_err(|err| anyhow::anyhow!("deriving the OTP key: {err}"))?;
        mac.update(b"samvad one-time codes v1");
        let otp_key = mac.finalize().into_bytes().into();
        Ok(Self {
            refresh_token_ttl: chrono::Duration::from_std(config.refresh_token_ttl)?,
            otp_key,
            public_url: config.public_url.clone(),
            presence_grace: config.presence_grace,
            send_queue: config.send_queue.max(1),
            writers: config.writers.max(1),
            batch_wait: config.batch_wait,
            data_key: data_key(config)?,
            cors_origins: config.cors_origins.clone(),
            own_origin: Origin::of_url(&config.public_url),
            files: files(config)?,
            push_grace: config.push.grace,
            webhook_retries: config.webhooks.retry_schedule.clone(),
        })
    }
}

/// The storage, the link signer and the rest of what files need.
fn files(config: &Config) -> anyhow::Result<Files> {
    use hmac::{Hmac, Mac};
    let storage = match &config.s3 {
        Some(s3) => Storage::s3(s3)?,
        None => Storage::local(&config.data_dir.join("files"))?,
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(config.jwt_secret.expose().as_bytes())
        .map_err(|err| anyhow::anyhow!("deriving the link key: {err}"))?;
    mac.update(b"samvad file links v1");
    Ok(Files {
        storage,
        links: Links::new(
            mac.finalize().into_bytes().into(),
            &config.public_url,
            config.media_link_ttl,
        ),
        spool_dir: config.data_dir.join("spool"),
        clamd: config.clamd_addr.clone(),
        wakeup: Default::default(),
    })
}

/// The configured data key; in development without one, the key kept in
/// `data_dir/data.key` (made on first use), so sealed secrets survive
/// restarts.
fn data_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    if let Some(key) = &config.data_key {
        return parse_key(key.expose());
    }
    let path = config.data_dir.join("data.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return parse_key(&text).with_context(|| format!("{} is not a data key", path.display()));
    }
    let key: [u8; 32] = rand::random();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    std::fs::write(&path, hex).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(path = %path.display(), "no SAMVAD_DATA_KEY: made a development data key");
    Ok(key)
}
