//! The shared state every front door reads: [`AppState`] (configuration,
//! the core, the auth service, start time) and [`build_core`]. It sits apart
//! from `app` (the route table), which imports the front doors, so they can
//! import the state without importing the module that imports them.

use std::{sync::Arc, time::Instant};

use crate::{
    auth::Auth,
    config::Config,
    db::Pool,
    delivery::Delivery,
    domain::{Core, CoreConfig},
};

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub core: Core,
    pub auth: Auth,
    pub started: Instant,
}

impl AppState {
    /// Builds the core and the auth service (loading every tenant's policy).
    pub async fn new(config: Config, pool: Pool) -> anyhow::Result<Self> {
        let core = build_core(&config, pool)?;
        let auth = Auth::new(core.clone(), &config).await?;
        core.reload_known_origins().await?;
        Ok(Self {
            config: Arc::new(config),
            core,
            auth,
            started: Instant::now(),
        })
    }
}

/// The core as the configuration describes it (server, CLI and tests).
pub fn build_core(config: &Config, pool: Pool) -> anyhow::Result<Core> {
    Ok(Core::new(
        pool,
        CoreConfig::from_config(config)?,
        Delivery::from_config(config)?,
    ))
}
