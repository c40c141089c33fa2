//! A Redis server of the test's own (`redis-server` on a free port, no
//! persistence), for tests that restart it. Start-up is awaited by pinging,
//! never by sleeping.

use std::{process::Stdio, time::Duration};

use tokio::process::{Child, Command};

pub struct PrivateRedis {
    port: u16,
    child: Child,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().unwrap().port()
        };
        let child = spawn(port).await;
        PrivateRedis { port, child }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server process (a test may kill it from elsewhere).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("redis-server is running")
    }

    /// The URL the app takes (RESP3).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/?protocol=resp3", self.port())
    }

    /// Stops (`SIGSTOP`) or resumes (`SIGCONT`) the server: connections
    /// stay open and nothing answers, as with a Redis that hangs.
    pub fn hang(&self, hung: bool) {
        let signal = if hung { "-STOP" } else { "-CONT" };
        let status = std::process::Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// Kills the server (`SIGKILL`: nothing saved, every connection cut)
    /// and starts a new one on the same port.
    pub async fn restart(&mut self) {
        self.child.kill().await.expect("kill redis-server");
        self.child = spawn(self.port).await;
    }
}

async fn spawn(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server is needed for these tests (Debian: apt-get install redis-server)");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    for _ in 0..500 {
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await
            && redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("redis-server did not start on port {port}");
}
