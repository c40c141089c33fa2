//! The `samvad` binary; see `samvad --help` and [`samvad::cli`].

#![forbid(unsafe_code)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    samvad::cli::main().await
}
