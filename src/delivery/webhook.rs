//! Webhooks out: signed POSTs to the URLs tenants give, in the Standard
//! Webhooks format (<https://www.standardwebhooks.com>), so receivers check
//! them with the published libraries:
//!
//! - `webhook-id`: the delivery's id, the same on every retry;
//! - `webhook-timestamp`: seconds since the epoch, of this attempt;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
//!   keyed with the secret's bytes (the secret is `whsec_<base64>`).
//!
//! Server-side request forgery: a tenant's URL must not reach the machine
//! Samvad runs on or its private network. Addresses that are not public
//! (loopback, private, link-local, carrier NAT, unique local, multicast,
//! documentation, reserved...) are refused when an endpoint is saved
//! ([`WebhookSender::check_url`]) and again at every connection: the
//! client's resolver drops them, so a name that later resolves to
//! 127.0.0.1 (DNS rebinding) reaches nothing, and redirects are not
//! followed. `SAMVAD_WEBHOOK_ALLOW_PRIVATE=1` lifts the rule (development
//! and the tests).
//!
//! There is no file-writing development variant: a webhook goes to the URL
//! its tenant gave or nowhere.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// How long an attempt may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a receiver's answer is kept for the delivery log.
pub const BODY_KEPT: usize = 512;
/// The secret's prefix.
const SECRET_PREFIX: &str = "whsec_";

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's HTTP status; `None` when none came (refused, timed
    /// out, not allowed).
    pub status: Option<u16>,
    /// The first [`BODY_KEPT`] bytes of the receiver's answer.
    pub body: Option<String>,
    /// Why it failed, when no status explains it.
    pub error: Option<String>,
}

impl Attempt {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn failed(error: impl Into<String>) -> Self {
        Self {
            status: None,
            body: None,
            error: Some(error.into()),
        }
    }
}

/// What is signed and sent.
pub struct Outgoing<'a> {
    pub url: &'a str,
    /// The `webhook-id`.
    pub id: &'a str,
    /// The endpoint's secret, `whsec_...`.
    pub secret: &'a str,
    /// The JSON body, byte for byte as signed.
    pub body: &'a str,
}

/// Sends webhooks, refusing private targets unless allowed.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl WebhookSender {
    pub fn new(allow_private: bool) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Samvad-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .build()?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// Whether `raw` may be a webhook's target: an absolute `http(s)` URL
    /// without credentials whose host, if it is an address, is public (a
    /// name is checked at each connection, by the resolver). The error
    /// says what is wrong, for the tenant.
    pub fn check_url(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw.trim()).map_err(|err| format!("url is not a valid URL: {err}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("url must start with https:// (or http://)".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("url must not carry a user name or password".into());
        }
        if raw.len() > 2048 {
            return Err("url is longer than 2048 characters".into());
        }
        let host = url.host().ok_or("url has no host")?;
        let ip = match host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if !self.allow_private && (name == "localhost" || name.ends_with(".localhost")) {
                    return Err("url must not point at this machine".into());
                }
                None
            }
        };
        if let Some(ip) = ip
            && !self.allow_private
            && !is_public(ip)
        {
            return Err("url must not point at a private, loopback or reserved address".into());
        }
        Ok(url)
    }

    /// Signs and posts one delivery.
    pub async fn send(&self, out: &Outgoing<'_>) -> Attempt {
        let url = match self.check_url(out.url) {
            Ok(url) => url,
            Err(why) => return Attempt::failed(why),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match sign(out.secret, out.id, timestamp, out.body) {
            Some(s) => s,
            None => return Attempt::failed("the endpoint's secret is unreadable"),
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", out.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(out.body.to_owned())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(err) => return Attempt::failed(describe(&err)),
        };
        let status = response.status().as_u16();
        // Only the first bytes are wanted: read no more than that.
        let mut body = Vec::new();
        let mut response = response;
        while body.len() < BODY_KEPT {
            match tokio::time::timeout(TIMEOUT, response.chunk()).await {
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(BODY_KEPT);
        Attempt {
            status: Some(status),
            body: Some(String::from_utf8_lossy(&body).into_owned()),
            error: None,
        }
    }
}

/// A new endpoint secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The `webhook-signature` value for one attempt, or `None` when the
/// secret is not `whsec_<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX)?)
        .ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// An error in a few words for the delivery log (no internal detail).
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else if err.is_connect() {
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            if s.to_string().contains(NOT_PUBLIC) {
                return NOT_PUBLIC.to_owned();
            }
            source = s.source();
        }
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

const NOT_PUBLIC: &str = "the host resolves only to private or reserved addresses";

/// The system's resolver, keeping only public addresses (unless allowed).
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(NOT_PUBLIC.into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address at its end.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments (Teredo, ...)
                || s[0] == 0x2002 // 6to4 (may wrap a private IPv4)
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0)
                || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_to_private_hosts_are_refused_unless_allowed() {
        let strict = WebhookSender::new(false).unwrap();
        for bad in [
            "http://127.0.0.1/hook",
            "http://[::1]:8080/",
            "https://localhost/x",
            "http://169.254.169.254/latest/meta-data",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        assert!(strict.check_url("https://example.com/hooks").is_ok());
        let open = WebhookSender::new(true).unwrap();
        assert!(open.check_url("http://127.0.0.1:9/hook").is_ok());
    }

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example in the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign("no-prefix", "id", 1, "{}").is_none());
    }
}
