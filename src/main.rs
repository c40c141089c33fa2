//! The `samvad` binary; see `samvad --help` and [`samvad::cli`].

#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    samvad::cli::main().await
}
