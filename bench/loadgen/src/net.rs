//! Where the connections go: the server's URLs and address, and the
//! loopback source addresses they come from.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};

/// Source addresses to spread connections over: each has about 28k
/// ephemeral ports on loopback, but Linux gives connect() the even half
/// first and, once that is used up, scans all of it on every connect (the
/// load generator's CPU per connection doubled past 14,000). 10,000 a
/// source stays within the even half.
pub(crate) const PER_SOURCE: usize = 10_000;

/// `host:port` of an `http://` or `ws://` base URL.
pub(crate) fn host_port(base: &str) -> anyhow::Result<&str> {
    let base = base.trim_end_matches('/');
    base.strip_prefix("http://")
        .or_else(|| base.strip_prefix("ws://"))
        .context("--url must be http://host:port")
}

pub(crate) fn ws_url(base: &str) -> anyhow::Result<String> {
    Ok(format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        host_port(base)?
    ))
}

/// The server's socket address (the URL's host resolved).
pub(crate) async fn server_addr(base: &str) -> anyhow::Result<SocketAddr> {
    let hp = host_port(base)?;
    if let Ok(addr) = hp.parse() {
        return Ok(addr);
    }
    tokio::net::lookup_host(hp)
        .await?
        .next()
        .with_context(|| format!("{hp} does not resolve"))
}

/// `count` loopback source addresses from 127.0.0.2 on.
pub(crate) fn sources(count: usize, server: SocketAddr) -> anyhow::Result<Vec<IpAddr>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if !server.ip().is_loopback() || !server.is_ipv4() {
        bail!("source addresses are 127.0.0.x: the server must be on 127.0.0.0/8");
    }
    if count > 250 {
        bail!("at most 250 source addresses");
    }
    Ok((0..count)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
        .collect())
}
