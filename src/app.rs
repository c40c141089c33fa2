//! The application: the route table and the server loop. The shared state
//! is [`crate::state`]; background work is [`crate::workers`].
//!
//! [`run`] takes a bound listener and a shutdown future, so tests bind port 0
//! and stop the server when they are done; `main` passes SIGTERM/Ctrl-C.

use std::future::Future;

use poem::{
    Endpoint, EndpointExt, IntoResponse, Route, Server,
    listener::{Acceptor, TcpAcceptor},
    web::{LocalAddr, RemoteAddr},
};

use crate::{api, error, middleware, realtime::Realtime, state::AppState, workers};

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
        .at("/metrics", crate::metrics::endpoint(realtime.io().clone()))
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
/// (up to the configured timeout), stops the background workers
/// ([`workers::start`]) and closes the database pool.
pub async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let acceptor = NoDelay(TcpAcceptor::from_tokio(listener)?);
    // Recording starts before anything is recorded.
    crate::metrics::handle();
    let timeout = state.config.shutdown_timeout;
    let driver = crate::cluster::driver(&state.config).await?;
    // This process among the nodes (several nodes: rate limits and
    // presence in Redis, caches kept current by the relay).
    let node = uuid::Uuid::now_v7();
    if let Some(conn) = driver.connection() {
        let prefix = &state.config.redis_prefix;
        state.core.limits().share(conn.clone(), prefix);
        state.core.share_presence(conn, prefix, node);
    }
    let relay = crate::cluster::relay::start(&state, driver.clone(), node).await?;
    let workers = workers::start(&state);
    let realtime = Realtime::start(&state, driver, node).await?;
    let routes = routes(&state, &realtime);
    // Sockets are closed first: a long-poll would otherwise hold the
    // graceful shutdown for its whole ping interval.
    // Workers get the stop signal at the same time, and share the timeout.
    let shutdown = async {
        shutdown.await;
        workers.signal_stop();
        realtime.close().await;
    };
    let served = Server::new_with_acceptor(acceptor)
        .name("samvad")
        .run_with_graceful_shutdown(routes, shutdown, Some(timeout))
        .await;
    workers.shutdown().await;
    state.core.presence_retire().await;
    if let Some(relay) = relay {
        relay.abort();
    }
    state.core.close(timeout).await;
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
