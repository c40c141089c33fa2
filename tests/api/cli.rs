//! The `samvad` binary: operator commands with `--json`, start-up errors,
//! and `serve` end to end (demo tenant, login, SIGTERM).

use std::{
    process::{Command, Output, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_samvad");

fn samvad(database_url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("SAMVAD_ENV")
        .env_remove("SAMVAD_JWT_SECRET")
        .output()
        .expect("run samvad")
}

/// The single JSON object a `--json` command printed.
fn json_of(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line of JSON, got: {stdout}");
    serde_json::from_str(lines[0]).expect("JSON output")
}

#[tokio::test]
async fn operator_commands_print_one_json_object_each() {
    let db = TestDb::create().await;

    let tenant = samvad(
        &db.url,
        &[
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme",
            "--admin-email",
            "a@acme.test",
            "--admin-password",
            "password-1",
            "--json",
        ],
    );
    assert!(
        tenant.status.success(),
        "{}",
        String::from_utf8_lossy(&tenant.stderr)
    );
    let tenant = json_of(&tenant);
    assert_eq!(tenant["success"], json!(true));
    assert_eq!(tenant["data"]["slug"], json!("acme"));
    assert!(tenant["data"]["tenantId"].is_string() && tenant["data"]["adminId"].is_string());

    let astro = samvad(
        &db.url,
        &[
            "participant",
            "create",
            "--tenant",
            "acme",
            "--role",
            "astrologer",
            "--name",
            "Asha",
            "--phone",
            "09812345678",
            "--json",
        ],
    );
    assert!(astro.status.success());
    let astro = json_of(&astro);
    assert_eq!(astro["data"]["type"], json!("astrologer"));
    assert_eq!(astro["data"]["tenantId"], tenant["data"]["tenantId"]);

    let root = samvad(
        &db.url,
        &[
            "superadmin",
            "create",
            "--email",
            "root@x.test",
            "--password",
            "password-1",
            "--json",
        ],
    );
    assert!(root.status.success());
    assert_eq!(json_of(&root)["data"]["email"], json!("root@x.test"));

    let text = samvad(
        &db.url,
        &[
            "participant",
            "create",
            "--tenant",
            "acme",
            "--role",
            "user",
            "--name",
            "Uma",
        ],
    );
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("created user Uma"));
}

#[tokio::test]
async fn operator_command_failures_exit_non_zero_with_the_error_envelope() {
    let db = TestDb::create().await;
    let create = [
        "tenant",
        "create",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "a@acme.test",
        "--admin-password",
        "password-1",
        "--json",
    ];
    assert!(samvad(&db.url, &create).status.success());

    let again = samvad(&db.url, &create);
    assert!(!again.status.success());
    let body = json_of(&again);
    assert_eq!(body["success"], json!(false));
    assert_eq!(body["error"]["code"], json!("slug_taken"));

    let unknown = samvad(
        &db.url,
        &[
            "participant",
            "create",
            "--tenant",
            "nope",
            "--role",
            "user",
            "--name",
            "U",
            "--json",
        ],
    );
    assert_eq!(json_of(&unknown)["error"]["code"], json!("not_found"));
    let bad_role = samvad(
        &db.url,
        &[
            "participant",
            "create",
            "--tenant",
            "acme",
            "--role",
            "wizard",
            "--name",
            "U",
        ],
    );
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("type must be"));
}

#[test]
fn json_mode_reports_configuration_and_usage_errors_as_the_envelope() {
    let config = Command::new(BIN)
        .args([
            "participant",
            "create",
            "--tenant",
            "t",
            "--role",
            "user",
            "--name",
            "U",
            "--json",
        ])
        .env("SAMVAD_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!config.status.success());
    assert_eq!(json_of(&config)["error"]["code"], json!("configuration"));

    let usage = Command::new(BIN)
        .args(["participant", "create", "--json"])
        .output()
        .unwrap();
    assert!(!usage.status.success());
    let body = json_of(&usage);
    assert_eq!(body["error"]["code"], json!("usage"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--role"),
        "{body}"
    );
}

#[test]
fn openapi_needs_no_configuration() {
    let output = Command::new(BIN)
        .arg("openapi")
        .env("SAMVAD_ENV", "production")
        .env_remove("SAMVAD_JWT_SECRET")
        .output()
        .unwrap();
    assert!(output.status.success());
}

#[test]
fn an_unreachable_database_is_one_clear_line_with_the_password_hidden() {
    let output = samvad("mysql://app:hunter2@127.0.0.1:1/samvad", &["serve"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("mysql://app:***@127.0.0.1:1/samvad"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn production_refuses_to_start_without_a_secret_or_with_a_wildcard_origin() {
    let run = |vars: &[(&str, &str)]| {
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .env("SAMVAD_ENV", "production")
            .env_remove("SAMVAD_JWT_SECRET")
            .env_remove("SAMVAD_CORS_ORIGINS");
        for (k, v) in vars {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let no_secret = run(&[("SAMVAD_CORS_ORIGINS", "https://app.example")]);
    assert!(!no_secret.status.success());
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("SAMVAD_JWT_SECRET"));
    let wildcard = run(&[
        ("SAMVAD_JWT_SECRET", &"s".repeat(32)),
        ("SAMVAD_CORS_ORIGINS", "*"),
    ]);
    assert!(!wildcard.status.success());
    assert!(String::from_utf8_lossy(&wildcard.stderr).contains("SAMVAD_CORS_ORIGINS"));
}

#[test]
fn openapi_prints_the_committed_spec() {
    let output = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        samvad::api::spec_json()
    );
}

#[tokio::test]
async fn serve_creates_the_database_seeds_the_demo_and_stops_on_sigterm() {
    let db = TestDb::create().await;
    // serve must create the database itself: drop the one the harness made.
    {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::MySqlConnection::connect(&crate::helpers::server_url())
            .await
            .unwrap();
        conn.execute(format!("DROP DATABASE `{}`", db.name).as_str())
            .await
            .unwrap();
    }
    let mut child = tokio::process::Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("SAMVAD_BIND", "127.0.0.1:0")
        .env_remove("SAMVAD_ENV")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (base, mut stderr) = crate::helpers::listening(&mut child).await;

    // The demo tenant is seeded before the banner with its login is printed.
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = stdout.next_line().await.unwrap().unwrap();
    assert!(banner.contains("demo tenant `demo`"), "{banner}");
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "tenant": "demo", "email": "astrologer@demo.test", "password": samvad::demo::PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        login["data"]["user"]["type"],
        json!("astrologer"),
        "{login}"
    );

    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let mut rest = vec![];
    while let Some(line) = stderr.next_line().await.unwrap() {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    // stderr is a pipe here, as under a log collector: no colour codes.
    assert!(
        rest.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in a log that is not a terminal: {rest:?}"
    );
}
