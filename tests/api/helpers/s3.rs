//! A real S3-protocol server for tests: moto (PyPI `moto[s3]`, run as
//! `moto_server`) on a free loopback port, killed when the handle drops.
//!
//! The executable is `$SAMVAD_TEST_MOTO` if set, else
//! `target/moto-venv/bin/moto_server` (where `.ci/run` installs it), else
//! `moto_server` on `PATH`. Readiness is polled (an HTTP GET until it
//! answers), not slept for. moto takes any keys and keeps everything in
//! memory, so each server starts empty.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use samvad::storage::{S3Config, Secret};

/// How to install moto, for the panic when it is missing.
const INSTALL: &str = "python3 -m venv target/moto-venv && \
     target/moto-venv/bin/pip install 'moto[s3]==5.2.6' 'flask==3.1.3' 'flask-cors==6.0.5' \
     (or set SAMVAD_TEST_MOTO to a moto_server executable)";
/// How long moto may take to answer after it starts.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running moto server; dropping it kills the process.
pub struct MotoServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Child,
    log: PathBuf,
}

impl MotoServer {
    /// Starts moto on a free port and waits until it answers.
    ///
    /// Panics, saying how to install moto, when it cannot be found, and
    /// with moto's own output when it does not come up.
    pub async fn start() -> MotoServer {
        let exe = executable();
        let mut last_log = String::new();
        // A port picked free can be taken before moto binds it: try again.
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("samvad-moto-{port}.log"));
            let out = fs::File::create(&log).expect("creating moto's log file");
            let err = out.try_clone().expect("sharing moto's log file");
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "starting {}: {e}; to install moto: {INSTALL}",
                        exe.display()
                    )
                });
            let mut server = MotoServer {
                endpoint: format!("http://127.0.0.1:{port}"),
                child,
                log,
            };
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!(
            "moto ({}) did not come up; its output:\n{last_log}",
            exe.display()
        );
    }

    /// Polls until moto answers an HTTP GET; on failure, moto's output.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}\n{}", self.output()));
            }
            let probe = client
                .get(&self.endpoint)
                .timeout(Duration::from_secs(2))
                .send();
            if probe.await.is_ok() {
                return Ok(());
            }
            // Between polls: refused connections answer at once.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "no answer within {READY_WITHIN:?}\n{}",
            self.output()
        ))
    }

    /// moto's output so far (its request log, or why it failed).
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Creates `bucket` (a plain PUT; moto does not check signatures).
    pub async fn create_bucket(&self, bucket: &str) {
        let url = format!("{}/{bucket}", self.endpoint);
        let res = reqwest::Client::new()
            .put(&url)
            .send()
            .await
            .expect("PUT bucket to moto");
        let status = res.status();
        assert!(
            status.is_success(),
            "creating bucket {bucket}: {status}: {}",
            res.text().await.unwrap_or_default()
        );
    }

    /// Settings for `bucket` on this server: path style, plain HTTP,
    /// region `us-east-1`, keys `test`/`test`.
    pub fn bucket_config(&self, bucket: &str) -> S3Config {
        S3Config {
            endpoint: Some(self.endpoint.clone()),
            bucket: bucket.to_owned(),
            region: "us-east-1".to_owned(),
            path_style: true,
            access_key_id: "test".to_owned(),
            secret_access_key: Secret::new("test"),
            allow_http: true,
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
    }
}

/// The moto_server to run: `$SAMVAD_TEST_MOTO`, the CI venv, or `PATH`.
fn executable() -> PathBuf {
    if let Some(exe) = std::env::var_os("SAMVAD_TEST_MOTO") {
        let exe = PathBuf::from(exe);
        assert!(
            exe.is_file(),
            "SAMVAD_TEST_MOTO={} is not a file; to install moto: {INSTALL}",
            exe.display()
        );
        return exe;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("moto_server"))
        .find(|exe| exe.is_file())
        .unwrap_or_else(|| panic!("moto_server not found (SAMVAD_TEST_MOTO, target/moto-venv, PATH); to install moto: {INSTALL}"))
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("the bound address").port()
}
