//! Logging with `tracing`: human-readable text by default, one JSON object
//! per line with `SAMVAD_LOG_FORMAT=json`. `RUST_LOG` sets the filter
//! (default `info`, with sqlx's per-statement logs quieted). Logs go to
//! stderr; stdout carries only what a command prints for its caller.

use tracing_subscriber::{EnvFilter, filter::Targets, fmt, prelude::*};

use crate::config::LogFormat;

/// Whether the text log may use colours: stderr is a terminal and
/// `NO_COLOR` is not set.
fn colours() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Installs the global subscriber; later calls are ignored. With
/// `time_queries` (metrics are served), sqlx's per-statement events also
/// feed the query-time histogram (`metrics::QueryTimes`); the log's own
/// filter keeps them out of it. Without it, sqlx does not even make them.
pub fn init(format: LogFormat, time_queries: bool) {
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,poem=warn"))
    };
    let queries = time_queries.then(|| {
        crate::metrics::QueryTimes
            .with_filter(Targets::new().with_target("sqlx::query", tracing::Level::TRACE))
    });
    let registry = tracing_subscriber::registry().with(queries);
    let _ = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    // Colours for a person at a terminal only: a log file,
                    // journald or a container's log gets plain text.
                    .with_ansi(colours())
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            )
            .try_init(),
    };
}
