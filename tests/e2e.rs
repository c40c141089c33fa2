//! The end-to-end suite in `tests/e2e/`: the official `socket.io-client`
//! (Node, `node --test`) against the real app, over real sockets and HTTP,
//! and the console's browser tests (`*.browser.test.mjs`: `playwright-core`
//! driving Debian's Chromium at `/usr/bin/chromium`; missing, they fail).
//!
//! This test starts the app on a free port with a fresh database and a short
//! presence grace, creates the platform superadmin, and hands Node the base
//! URL and the superadmin's token and credentials (plus the JWT secret, to
//! forge an expired token). Each Node file creates its own tenants through REST, so
//! the files may run in any order. `npm ci` runs first when a dependency
//! in `tests/e2e/package.json` is missing from `node_modules`. No Node is a
//! failure, not a skip.
//! Node's output is printed line by line: `cargo test --test e2e --
//! --nocapture` shows it live, a plain run shows it when the test fails.
//! `SAMVAD_E2E_ONLY=origins` runs only the files whose names contain it.
//!
//! A test target of its own (`cargo test --test e2e`), so that a Rust-only
//! run is `cargo test --test api --lib`; plain `cargo test` runs both. It
//! shares the API tests' harness (`tests/api/helpers/`).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use samvad::config::Secret;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

#[path = "api/helpers/mod.rs"]
#[expect(
    dead_code,
    unused_imports,
    reason = "the harness serves the API tests too; this suite needs a part of it"
)]
mod helpers;

use crate::helpers::{PASSWORD, TestApp};

#[path = "e2e_support/node_process.rs"]
mod node_process;

use node_process::NodeProcess;

/// How long the whole Node run may take before it is killed (and fails).
const NODE_TIMEOUT: Duration = Duration::from_secs(240);
/// Presence grace of the app under test; Node's presence tests lean on it.
const PRESENCE_GRACE: Duration = Duration::from_millis(300);

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

/// Panics with a clear message unless `program --version` runs.
async fn require(program: &str, why: &str) -> String {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .await
        .unwrap_or_else(|err| {
            panic!("`{program}` is needed to {why} but could not be run ({err}); install Node.js 20+ and npm (Debian: apt-get install nodejs npm)")
        });
    assert!(
        out.status.success(),
        "`{program} --version` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The dependencies `package.json` names that `node_modules` lacks.
fn missing_dependencies(dir: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(dir.join("package.json")).expect("read package.json");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("parse package.json");
    manifest["dependencies"]
        .as_object()
        .map(|deps| {
            deps.keys()
                .filter(|name| {
                    !dir.join("node_modules")
                        .join(name.as_str())
                        .join("package.json")
                        .exists()
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// `npm ci` when a dependency is not installed yet.
async fn install_dependencies(dir: &Path) {
    let missing = missing_dependencies(dir);
    if missing.is_empty() {
        return;
    }
    require("npm", "install the e2e suite's dependencies").await;
    println!(
        "e2e: {} missing from node_modules; running `npm ci` in {}",
        missing.join(", "),
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .await
        .expect("run npm ci");
    assert!(status.success(), "`npm ci` in {} failed", dir.display());
}

/// Files to run at once: they use tenants of their own, so they may overlap.
const CONCURRENCY: &str = "--test-concurrency=3";

/// Whether this Node knows `--test-concurrency` (20.10 and later).
fn runs_files_concurrently(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    major > 20 || (major == 20 && minor >= 10)
}

/// The suite's test files, sorted (explicit, so no glob support is needed).
fn test_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("read tests/e2e")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .filter(|name| {
            std::env::var("SAMVAD_E2E_ONLY").map_or(true, |only| name.contains(only.as_str()))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_socket_io_suite_passes_against_the_real_app() {
    let dir = e2e_dir();
    let files = test_files(&dir);
    run_node(&dir, files, |_| {}, Nodes::One).await;
}

/// Three nodes on one database and one Redis, the test's app and two
/// `samvad serve` processes of this build: `cluster/*.test.mjs` with
/// SAMVAD_BASE_URL, SAMVAD_BASE_URL_B and SAMVAD_BASE_URL_C (messages,
/// typing, receipts and revocations across nodes, in every dialect; calls
/// placed, rung, answered, refused as busy, timed out and cleaned up across
/// nodes; Redis killed and started again: local delivery goes on,
/// cross-node delivery comes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_suite_passes_against_three_nodes_sharing_redis() {
    let dir = e2e_dir();
    if std::env::var("SAMVAD_E2E_ONLY").is_ok_and(|only| !"cluster".contains(only.as_str())) {
        return; // SAMVAD_E2E_ONLY names other files.
    }
    let files = vec!["cluster/nodes.test.mjs".to_owned()];
    // A Redis of this test's own: the suite kills and restarts it.
    let redis = helpers::redis::PrivateRedis::start().await;
    let url = redis.url();
    let configure = move |c: &mut samvad::config::Config| {
        c.redis_url = Some(Secret::new(url));
    };
    let nodes = Nodes::Three {
        redis_port: redis.port(),
        redis_pid: redis.pid(),
    };
    run_node(&dir, files, configure, nodes).await;
}

/// How many app nodes a Node run talks to (three share a Redis the suite
/// may kill and start again on the same port).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nodes {
    One,
    Three { redis_port: u16, redis_pid: u32 },
}

/// The media round trip again, with the files in S3 (a moto server the
/// test starts): upload, send, receive over `socket.io-client`, download
/// byte-identical, ranges. The run above keeps them on the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_round_trip_passes_with_the_files_in_s3() {
    let dir = e2e_dir();
    let files: Vec<String> = test_files(&dir)
        .into_iter()
        .filter(|f| f == "media.test.mjs")
        .collect();
    if files.is_empty() {
        return; // SAMVAD_E2E_ONLY names other files.
    }
    let moto = helpers::s3::MotoServer::start().await;
    moto.create_bucket("samvad-e2e").await;
    let s3 = moto.bucket_config("samvad-e2e");
    run_node(&dir, files, move |c| c.s3 = Some(s3), Nodes::One).await;
}

/// The fault runs measure how fast the nodes answer: they take the machine
/// alone (write); the Node runs share it (read).
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// `bench/faults.sh --quick`: three node processes of this build on a
/// private MariaDB and Redis, pairs sending through the official
/// `socket.io-client`, and a node killed with `kill -9`, Redis killed and
/// started again, MariaDB stopped and started again: nothing acknowledged
/// lost or duplicated, every stored message delivered, sends refused fast
/// (503) while the database is away, local delivery going on while Redis
/// is, the dead node's call ended with `network_error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_runs_lose_no_acknowledged_message() {
    if std::env::var("SAMVAD_E2E_ONLY").is_ok_and(|only| !"faults".contains(only.as_str())) {
        return; // SAMVAD_E2E_ONLY names other files.
    }
    require("node", "run the fault runs (bench/faults.sh)").await;
    let _alone = MACHINE.write().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/faults.sh");
    let run = Command::new(&script)
        .arg("--quick")
        .env("SAMVAD_BIN", env!("CARGO_BIN_EXE_samvad"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(FAULTS_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| {
            panic!("bench/faults.sh --quick did not finish within {FAULTS_TIMEOUT:?}")
        })
        .expect("run bench/faults.sh");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "bench/faults.sh --quick failed ({}); its output is above",
        out.status
    );
}

/// How long the quick fault runs may take (about 50 s alone).
const FAULTS_TIMEOUT: Duration = Duration::from_secs(300);

/// Starts the app (after `configure`) with a fresh database, creates the
/// superadmin, and runs `files` with Node against it; fails with Node's
/// output when Node does.
async fn run_node(
    dir: &Path,
    files: Vec<String>,
    configure: impl FnOnce(&mut samvad::config::Config),
    nodes: Nodes,
) {
    let _shared = MACHINE.read().await;
    let node = require("node", "run the Socket.IO end-to-end suite (tests/e2e)").await;
    install_dependencies(dir).await;

    let secret = format!("e2e-{}", uuid::Uuid::now_v7().simple());
    let app = TestApp::spawn_with(|c| {
        c.presence_grace = PRESENCE_GRACE;
        c.jwt_secret = Secret::new(secret.clone());
        configure(c);
    })
    .await;
    let others = match nodes {
        Nodes::One => vec![],
        Nodes::Three { .. } => vec![
            NodeProcess::start(&app, &secret).await,
            NodeProcess::start(&app, &secret).await,
        ],
    };
    // One login for the whole run (superadmin logins are rate-limited).
    let root = app.superadmin().await;

    println!(
        "e2e: node {node}, {} files against {}",
        files.len(),
        app.base
    );
    let started = std::time::Instant::now();
    let mut command = Command::new("node");
    command.arg("--test").arg("--test-reporter=spec");
    if runs_files_concurrently(&node) {
        command.arg(CONCURRENCY);
    }
    let mut child = command
        .args(&files)
        .current_dir(dir)
        .env("SAMVAD_BASE_URL", &app.base)
        .envs(
            ["SAMVAD_BASE_URL_B", "SAMVAD_BASE_URL_C"]
                .into_iter()
                .zip(others.iter().map(|node| node.base.clone())),
        )
        .envs(match nodes {
            Nodes::One => vec![],
            Nodes::Three {
                redis_port,
                redis_pid,
            } => vec![
                ("SAMVAD_REDIS_PORT", redis_port.to_string()),
                ("SAMVAD_REDIS_PID", redis_pid.to_string()),
            ],
        })
        .env("SAMVAD_SUPERADMIN_TOKEN", &root.access)
        .env("SAMVAD_SUPERADMIN_EMAIL", "root@platform.test")
        .env("SAMVAD_SUPERADMIN_PASSWORD", PASSWORD)
        .env("SAMVAD_JWT_SECRET", &secret)
        .env(
            "SAMVAD_PRESENCE_GRACE_MS",
            PRESENCE_GRACE.as_millis().to_string(),
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");

    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let run = async {
        let (mut out_open, mut err_open) = (true, true);
        while out_open || err_open {
            tokio::select! {
                line = out.next_line(), if out_open => match line {
                    Ok(Some(line)) => println!("{line}"),
                    _ => out_open = false,
                },
                line = err.next_line(), if err_open => match line {
                    Ok(Some(line)) => eprintln!("{line}"),
                    _ => err_open = false,
                },
            }
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(NODE_TIMEOUT, run).await {
        Ok(status) => status.expect("wait for node"),
        Err(_) => panic!("the Node e2e suite did not finish within {NODE_TIMEOUT:?}"),
    };
    println!(
        "e2e: node finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "the Node e2e suite failed ({status}); its output is above"
    );
    drop(others);
    app.stop().await;
}

#[test]
fn node_versions_that_run_files_concurrently_are_recognised() {
    assert!(runs_files_concurrently("v20.20.2"));
    assert!(runs_files_concurrently("v22.1.0"));
    assert!(!runs_files_concurrently("v20.9.0"));
    assert!(!runs_files_concurrently("v18.20.4"));
    assert!(!runs_files_concurrently("garbage"));
}
