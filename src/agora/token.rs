//! The AccessToken2 itself: services and their privileges, building
//! (signing, zlib, base64), parsing and verifying.
//!
//! Layout, every integer little-endian, every string `u16` length + bytes:
//! ```text
//! token        = "007" base64( zlib( content ) )
//! content      = string(signature) signing_info
//! signing_info = string(app_id) u32(issue_ts) u32(expire) u32(salt)
//!                u16(service count) service*            (ascending type)
//! service      = u16(type) map(privilege u16 -> expire u32) fields
//!                RTC fields: string(channel name) string(uid or account)
//!                RTM fields: string(user id)
//! signing key  = HMAC(key = u32 salt, HMAC(key = u32 issue_ts, certificate))
//! signature    = HMAC-SHA256(signing key, signing_info)
//! ```

use std::{collections::BTreeMap, io::Read, io::Write};

use base64::Engine;
use flate2::{Compression, read::ZlibDecoder, write::ZlibEncoder};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{
    AgoraCredentials, AgoraError,
    pack::{Reader, Writer},
};

/// The prefix that marks an AccessToken2.
pub const VERSION: &str = "007";

/// Service type of real-time audio and video.
pub const SERVICE_RTC: u16 = 1;
/// Service type of real-time messaging.
pub const SERVICE_RTM: u16 = 2;

/// Longer tokens are refused before decoding (ours are a few hundred bytes).
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Bound on the inflated content, so a tiny token cannot inflate to gigabytes.
const MAX_CONTENT_LEN: u64 = 64 * 1024;

/// Privilege numbers, as Agora defines them for each service. A privilege's
/// value in a token is its lifetime in seconds from the token's issue time.
pub mod privilege {
    /// RTC: join the channel.
    pub const JOIN_CHANNEL: u16 = 1;
    /// RTC: publish audio (enforced only with co-host authentication).
    pub const PUBLISH_AUDIO_STREAM: u16 = 2;
    /// RTC: publish video (enforced only with co-host authentication).
    pub const PUBLISH_VIDEO_STREAM: u16 = 3;
    /// RTC: publish data streams (enforced only with co-host authentication).
    pub const PUBLISH_DATA_STREAM: u16 = 4;
    /// RTM: log in.
    pub const LOGIN: u16 = 1;
}

/// One service a token grants, with its privileges (privilege number to
/// lifetime in seconds from the token's issue time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// Real-time audio and video (type 1) in one channel.
    Rtc {
        /// The channel the holder may join.
        channel_name: String,
        /// The decimal uid (see [`uid_string`]), a user account, or empty
        /// for "any uid".
        uid: String,
        /// Privilege number (see [`privilege`]) to lifetime in seconds.
        privileges: BTreeMap<u16, u32>,
    },
    /// Real-time messaging (type 2) for one user id.
    Rtm {
        /// The user id the holder may log in as.
        user_id: String,
        /// Privilege number (see [`privilege`]) to lifetime in seconds.
        privileges: BTreeMap<u16, u32>,
    },
}

impl Service {
    /// An RTC service without privileges yet; `uid` as in [`Service::Rtc`].
    pub fn rtc(channel_name: impl Into<String>, uid: impl Into<String>) -> Self {
        Self::Rtc {
            channel_name: channel_name.into(),
            uid: uid.into(),
            privileges: BTreeMap::new(),
        }
    }

    /// An RTM service without privileges yet.
    pub fn rtm(user_id: impl Into<String>) -> Self {
        Self::Rtm {
            user_id: user_id.into(),
            privileges: BTreeMap::new(),
        }
    }

    /// Grants `privilege` (see [`privilege`]) for `expire_secs` seconds from
    /// the token's issue time; granting it again replaces the lifetime.
    pub fn with_privilege(mut self, privilege: u16, expire_secs: u32) -> Self {
        match &mut self {
            Self::Rtc { privileges, .. } | Self::Rtm { privileges, .. } => {
                privileges.insert(privilege, expire_secs);
            }
        }
        self
    }

    /// The service's type number: [`SERVICE_RTC`] or [`SERVICE_RTM`].
    pub fn service_type(&self) -> u16 {
        match self {
            Self::Rtc { .. } => SERVICE_RTC,
            Self::Rtm { .. } => SERVICE_RTM,
        }
    }

    /// The privileges granted, privilege number to lifetime in seconds.
    pub fn privileges(&self) -> &BTreeMap<u16, u32> {
        match self {
            Self::Rtc { privileges, .. } | Self::Rtm { privileges, .. } => privileges,
        }
    }

    fn pack(&self, w: &mut Writer) -> Result<(), AgoraError> {
        w.u16(self.service_type());
        w.map_u32("privilege list", self.privileges())?;
        match self {
            Self::Rtc {
                channel_name, uid, ..
            } => {
                w.bytes("channel name", channel_name.as_bytes())?;
                w.bytes("uid", uid.as_bytes())
            }
            Self::Rtm { user_id, .. } => w.bytes("user id", user_id.as_bytes()),
        }
    }

    fn unpack(service_type: u16, r: &mut Reader<'_>) -> Result<Self, AgoraError> {
        match service_type {
            SERVICE_RTC => {
                let privileges = r.map_u32()?;
                Ok(Self::Rtc {
                    privileges,
                    channel_name: r.string()?,
                    uid: r.string()?,
                })
            }
            SERVICE_RTM => {
                let privileges = r.map_u32()?;
                Ok(Self::Rtm {
                    privileges,
                    user_id: r.string()?,
                })
            }
            _ => Err(AgoraError::MalformedToken {
                reason: "a service type other than RTC or RTM",
            }),
        }
    }
}

/// How a numeric uid is written into an RTC service: decimal, and 0 (any
/// uid) as the empty string.
pub fn uid_string(uid: u32) -> String {
    if uid == 0 {
        String::new()
    } else {
        uid.to_string()
    }
}

/// An AccessToken2 being assembled. [`super::rtc_token_with_uid`] and its
/// siblings cover the usual cases; use this type to combine services or to
/// pin `issue_ts` and `salt` (tests).
#[derive(Debug, Clone)]
pub struct AccessToken {
    credentials: AgoraCredentials,
    /// Issue time, Unix seconds; [`AccessToken::new`] sets it to now.
    pub issue_ts: u32,
    /// Lifetime of the whole token in seconds from `issue_ts`; no privilege
    /// outlives it.
    pub expire: u32,
    /// Random salt; [`AccessToken::new`] draws it from `1..=99_999_999`.
    pub salt: u32,
    services: BTreeMap<u16, Service>,
}

impl AccessToken {
    /// A token without services, issued now with a random salt, valid for
    /// `expire_secs` seconds.
    pub fn new(credentials: &AgoraCredentials, expire_secs: u32) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Self {
            credentials: credentials.clone(),
            issue_ts: u32::try_from(now).unwrap_or(u32::MAX),
            expire: expire_secs,
            salt: rand::random_range(1..=99_999_999),
            services: BTreeMap::new(),
        }
    }

    /// Adds a service, replacing any earlier one of the same type.
    pub fn with_service(mut self, service: Service) -> Self {
        self.services.insert(service.service_type(), service);
        self
    }

    /// Signs and encodes the token: `"007"` + base64(zlib(content)).
    ///
    /// Fails with [`AgoraError::NoService`] when no service was added and
    /// with [`AgoraError::TooLong`] when a string does not fit the format.
    pub fn build(&self) -> Result<String, AgoraError> {
        if self.services.is_empty() {
            return Err(AgoraError::NoService);
        }
        let mut info = Writer::default();
        info.bytes("app id", self.credentials.app_id().as_bytes())?;
        info.u32(self.issue_ts);
        info.u32(self.expire);
        info.u32(self.salt);
        // At most one service per type, and there are two types.
        info.u16(self.services.len() as u16);
        for service in self.services.values() {
            service.pack(&mut info)?;
        }
        let info = info.into_bytes();
        let key = signing_key(
            self.credentials.expose_certificate(),
            self.issue_ts,
            self.salt,
        );
        let signature = mac(&key).chain_update(&info).finalize().into_bytes();

        let mut content = Writer::default();
        content.bytes("signature", &signature)?;
        content.raw(&info);

        // zlib's default level, through C zlib: the bytes of Agora's Python,
        // Node and C++ builders (Go's flush differently; servers accept both).
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(&content.into_bytes())
            .expect("writing to a Vec cannot fail");
        let compressed = zlib.finish().expect("writing to a Vec cannot fail");
        Ok(format!(
            "{VERSION}{}",
            base64::engine::general_purpose::STANDARD.encode(compressed)
        ))
    }
}

/// An AccessToken2 taken apart by [`parse`]. Its fields say what the token
/// claims; only [`verify`] says whether the claim is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// The app id the token claims to be for.
    pub app_id: String,
    /// Issue time, Unix seconds.
    pub issue_ts: u32,
    /// Lifetime of the whole token in seconds from `issue_ts`.
    pub expire: u32,
    /// The salt mixed into the signing key.
    pub salt: u32,
    /// The services, in the token's order.
    pub services: Vec<Service>,
    signature: Vec<u8>,
    signing_info: Vec<u8>,
}

impl ParsedToken {
    /// When the token stops working, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        u64::from(self.issue_ts) + u64::from(self.expire)
    }
}

/// Takes an AccessToken2 apart without checking its signature. Anything
/// that is not a well-formed RTC/RTM token is [`AgoraError::MalformedToken`].
pub fn parse(token: &str) -> Result<ParsedToken, AgoraError> {
    let malformed = |reason| AgoraError::MalformedToken { reason };
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed("the token is too long"));
    }
    let body = token
        .strip_prefix(VERSION)
        .ok_or_else(|| malformed("the token does not start with 007"))?;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| malformed("the token is not base64"))?;
    let mut content = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_CONTENT_LEN + 1)
        .read_to_end(&mut content)
        .map_err(|_| malformed("the token is not zlib-compressed"))?;
    if content.len() as u64 > MAX_CONTENT_LEN {
        return Err(malformed("the token inflates too far"));
    }

    let mut r = Reader::new(&content);
    let signature = r.bytes()?.to_vec();
    let signing_info = r.rest().to_vec();
    let app_id = r.string()?;
    let issue_ts = r.u32()?;
    let expire = r.u32()?;
    let salt = r.u32()?;
    let count = r.u16()?;
    let mut services: Vec<Service> = Vec::new();
    for _ in 0..count {
        let service = Service::unpack(r.u16()?, &mut r)?;
        if services
            .iter()
            .any(|s| s.service_type() == service.service_type())
        {
            return Err(malformed("a service appears twice"));
        }
        services.push(service);
    }
    if !r.rest().is_empty() {
        return Err(malformed("bytes follow the last service"));
    }
    Ok(ParsedToken {
        app_id,
        issue_ts,
        expire,
        salt,
        services,
        signature,
        signing_info,
    })
}

/// True when `parsed` was issued for `credentials`' app id and signed with
/// its certificate. The comparison takes constant time. Expiry is not
/// checked: compare [`ParsedToken::expires_at`] with the clock for that.
pub fn verify(parsed: &ParsedToken, credentials: &AgoraCredentials) -> bool {
    if parsed.app_id != credentials.app_id() {
        return false;
    }
    let key = signing_key(
        credentials.expose_certificate(),
        parsed.issue_ts,
        parsed.salt,
    );
    mac(&key)
        .chain_update(&parsed.signing_info)
        .verify_slice(&parsed.signature)
        .is_ok()
}

/// HMAC(key = salt, HMAC(key = issue_ts, certificate)), integers as u32 LE.
fn signing_key(certificate: &str, issue_ts: u32, salt: u32) -> [u8; 32] {
    let by_time = mac(&issue_ts.to_le_bytes())
        .chain_update(certificate.as_bytes())
        .finalize()
        .into_bytes();
    mac(&salt.to_le_bytes())
        .chain_update(by_time)
        .finalize()
        .into_bytes()
        .into()
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    Hmac::new_from_slice(key).expect("HMAC takes a key of any length")
}
