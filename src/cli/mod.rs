//! The `samvad` command line: `serve`, `migrate`, `openapi`, and operator
//! commands that create superadmins, tenants and participants. With
//! `--json` an operator command prints exactly one JSON object: the
//! envelope `{"success": true, "data": ...}`, or the error envelope.
//! The operator commands are in [`operator`]; `bench seed` and `bench core`
//! (development only) are in [`crate::bench_seed`] and [`crate::bench_core`].

mod operator;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use operator::{ParticipantCommand, SuperadminCommand, TenantCommand, operator};

use crate::{
    api, app,
    bench_seed::{self, BenchCommand},
    config::{Config, Environment},
    db, demo,
    error::{AppError, AppResult},
    state::AppState,
    telemetry,
};

// No Debug on these: they hold passwords.
#[derive(Parser)]
#[command(
    name = "samvad",
    version,
    about = "Multi-tenant chat and calls for consultation marketplaces"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates and migrates the database first)
    Serve,
    /// Create the database if missing and apply pending migrations
    Migrate,
    /// Print the OpenAPI spec (what `openapi/openapi.json` holds)
    Openapi,
    /// Manage platform superadmins
    Superadmin {
        #[command(subcommand)]
        command: SuperadminCommand,
    },
    /// Manage tenants
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage participants of a tenant
    Participant {
        #[command(subcommand)]
        command: ParticipantCommand,
    },
    /// Load-test helpers for development databases (refused in production)
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

/// Runs the command line and returns the process exit code.
pub async fn main() -> ExitCode {
    let json = std::env::args().any(|arg| arg == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if json && err.use_stderr() => {
            // clap's message without its usage block, on one line.
            let rendered = err.render().to_string();
            let text = rendered.split("Usage:").next().unwrap_or_default();
            let message = text
                .trim_start_matches("error:")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            return report(
                json,
                Err(AppError::BadRequest {
                    code: "usage",
                    message,
                }),
            );
        }
        Err(err) => err.exit(),
    };
    if let Command::Openapi = cli.command {
        // The spec needs no configuration and no database. A closed pipe
        // (`samvad openapi | head`) is not an error worth a panic.
        say(api::spec_json().trim_end());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) if json => {
            let err = AppError::BadRequest {
                code: "configuration",
                message: format!("{err:#}"),
            };
            return report(json, Err(err));
        }
        Err(err) => return fail(&format!("{err:#}")),
    };
    telemetry::init(config.log_format, config.metrics_token.is_some());
    match cli.command {
        Command::Serve => outcome(serve(config).await),
        Command::Migrate => outcome(migrate(&config).await),
        Command::Openapi => unreachable!("handled above"),
        Command::Superadmin { command } => operator(&config, command).await,
        Command::Tenant { command } => operator(&config, command).await,
        Command::Participant { command } => operator(&config, command).await,
        Command::Bench { command } => {
            let json = command.json();
            report(json, bench_seed::run(&config, command).await)
        }
    }
}

/// Prints a line to stdout. A closed pipe (`samvad openapi | head`) is the
/// reader's choice, not an error worth a panic, so write errors are ignored.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"));
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn outcome(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&format!("{err:#}")),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::prepare(config.database_url.expose(), config.pool_connections()).await?;
    let bind = config.bind;
    let dev = config.env == Environment::Dev;
    let state = AppState::new(config, pool).await?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind} (SAMVAD_BIND)"))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    tracing::info!(
        "samvad {} listening on {base_url}",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(legacy) = &state.config.legacy_tokens
        && state.core.tenant_by_slug(&legacy.tenant).await?.is_none()
    {
        let problem = format!(
            "SAMVAD_LEGACY_TENANT `{}` is not a tenant: old tokens will all be refused",
            legacy.tenant
        );
        if !dev {
            anyhow::bail!(problem);
        }
        tracing::warn!("{problem}");
    }
    if dev {
        if demo::seed_if_empty(&state.core).await? {
            tracing::info!("created the demo tenant (dev mode, empty database)");
        }
        if state.core.tenant_by_slug(demo::SLUG).await?.is_some() {
            say(&demo::login_hint(&base_url));
        }
    }
    app::run(state, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let pool = db::prepare(config.database_url.expose(), 2).await?;
    pool.close().await;
    say("database is up to date");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Prints an operator command's result (text, or one JSON envelope) and
/// returns the exit code.
fn report(json: bool, result: AppResult<(Value, String)>) -> ExitCode {
    match (result, json) {
        (Ok((data, _)), true) => {
            say(&json!({ "success": true, "data": data }).to_string());
            ExitCode::SUCCESS
        }
        (Ok((_, text)), false) => {
            say(&text);
            ExitCode::SUCCESS
        }
        (Err(err), true) => {
            let message = match &err {
                AppError::Internal(cause) => format!("{cause:#}"),
                other => other.to_string(),
            };
            say(&json!({ "success": false, "error": { "code": err.code(), "message": message }, "message": message }).to_string());
            ExitCode::FAILURE
        }
        (Err(AppError::Internal(cause)), false) => fail(&format!("{cause:#}")),
        (Err(err), false) => fail(&err.to_string()),
    }
}
