//! The application: shared state, the route table, and the server loop.
//!
//! [`run`] takes a bound listener and a shutdown future, so tests bind port 0
//! and stop the server when they are done; `main` passes SIGTERM/Ctrl-C.

use std::{future::Future, sync::Arc, time::Instant};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Route, Server,
    listener::{Acceptor, TcpAcceptor},
    web::{LocalAddr, RemoteAddr},
};

use crate::{
    api,
    auth::Auth,
    config::Config,
    db::Pool,
    delivery::Delivery,
    domain::{Core, CoreConfig},
    error, middleware,
    realtime::Realtime,
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

/// The route table: the OpenAPI operations (under `/api`, plus `/ping` and
/// `/health`), the spec and its docs UI, Socket.IO at `/socket.io/`, wrapped
/// in the shared middleware.
pub fn routes(state: &AppState, realtime: &Realtime) -> impl Endpoint + 'static {
    let spec = api::spec_json();
    let docs = api::docs_html();
    let body_limit = state.config.body_limit;
    Route::new()
        .nest("/", api::service())
        .at(
            "/api/openapi.json",
            poem::endpoint::make_sync(move |_| {
                spec.clone()
                    .with_content_type("application/json; charset=utf-8")
            }),
        )
        .at(
            "/api/docs",
            poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone())),
        )
        .nest("/account", crate::console::account::routes())
        .nest("/console", crate::console::admin::routes())
        // `nest` would strip the prefix, and socketioxide matches on it.
        .nest_no_strip("/socket.io", realtime.endpoint())
        .around(move |ep, req| middleware::limit_body(ep, req, body_limit))
        // Render errors inside CORS: its layer would turn them into bare text.
        .catch_all_error(error::render_any_error)
        .with(middleware::cors(&state.config, &state.core))
        .data(state.auth.clone())
        .data(state.clone())
        .around(middleware::request_context)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish
/// (up to the configured timeout) and closes the database pool. Background
/// upkeep (the periodic policy reload) and the call sweeper (ring timeouts)
/// run for as long as the server does.
pub async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let acceptor = NoDelay(TcpAcceptor::from_tokio(listener)?);
    let timeout = state.config.shutdown_timeout;
    let upkeep = tokio::spawn(upkeep(state.clone()));
    let sweeper = {
        let core = state.core.clone();
        tokio::spawn(async move { core.run_call_sweeper(std::future::pending()).await })
    };
    let realtime = Realtime::start(&state);
    let routes = routes(&state, &realtime);
    // Sockets are closed first: a long-poll would otherwise hold the
    // graceful shutdown for its whole ping interval.
    let shutdown = async {
        shutdown.await;
        realtime.close().await;
    };
    let served = Server::new_with_acceptor(acceptor)
        .name("samvad")
        .run_with_graceful_shutdown(routes, shutdown, Some(timeout))
        .await;
    upkeep.abort();
    sweeper.abort();
    state.core.pool().close().await;
    Ok(served?)
}

/// Accepts connections with Nagle's algorithm off (`TCP_NODELAY`), which
/// poem leaves on. A socket writes small frames one after another (an ack,
/// then a message); with Nagle on, the second waits until the client
/// acknowledges the first, and a client that has nothing to send delays
/// that acknowledgement by up to 40 ms.
struct NoDelay(TcpAcceptor);

impl Acceptor for NoDelay {
    type Io = tokio::net::TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        if let Err(err) = io.set_nodelay(true) {
            tracing::debug!(error = %err, "setting TCP_NODELAY failed");
        }
        Ok((io, local, remote, scheme))
    }
}

/// Periodic work, every `SAMVAD_POLICY_REFRESH`: re-reads every tenant's
/// policy (edits made by the CLI or another node) and forgets rate-limit
/// keys that have recovered; hourly, purges spent codes and links.
async fn upkeep(state: AppState) {
    const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
    let mut every = tokio::time::interval(state.config.policy_refresh);
    every.tick().await; // the first tick is immediate; everything is fresh
    let mut purged = std::time::Instant::now();
    loop {
        every.tick().await;
        if let Err(err) = state.auth.reload_policy().await {
            tracing::warn!(error = %err, "periodic policy reload failed");
        }
        if let Err(err) = state.core.reload_known_origins().await {
            tracing::warn!(error = %err, "periodic reload of allowed origins failed");
        }
        state.core.limits().forget_idle();
        if purged.elapsed() >= PURGE_EVERY {
            purged = std::time::Instant::now();
            if let Err(err) = state.core.purge_spent().await {
                tracing::warn!(error = %err, "purging spent codes failed");
            }
        }
    }
}
