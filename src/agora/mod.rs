//! Agora AccessToken2 (`007...`) tokens for RTC (voice/video) and RTM.
//!
//! Agora's reference builders (AgoraIO/Tools, `DynamicKey/AgoraDynamicKey`)
//! are not on crates.io, so the format is implemented here and proven against
//! Agora's published test vectors (see the tests). Everything is pure: no I/O
//! beyond reading the clock and the thread RNG in [`AccessToken::new`].
//!
//! The usual calls:
//! ```
//! use samvad::agora::{AgoraCredentials, RtcRole, rtc_token_with_uid, rtm_token};
//!
//! let creds = AgoraCredentials::new(
//!     "970CA35de60c44645bbae8a215061b33",
//!     "5CFd2fd1755d40ecb72977518be15d3b",
//! )?;
//! let rtc = rtc_token_with_uid(&creds, "call-42", 7, RtcRole::Publisher, 3600, 3600)?;
//! let rtm = rtm_token(&creds, "participant-7", 3600)?;
//! assert!(rtc.starts_with("007") && rtm.starts_with("007"));
//! # Ok::<(), samvad::agora::AgoraError>(())
//! ```
//!
//! Lifetimes are seconds from the issue time. Agora limits a channel name to
//! 64 bytes and an account to 255; only the format's own limit (65,535 bytes
//! per string) is checked here.

use std::fmt;

mod pack;
#[cfg(test)]
mod tests;
mod token;

pub use token::{
    AccessToken, ParsedToken, SERVICE_RTC, SERVICE_RTM, Service, VERSION, parse, privilege,
    uid_string, verify,
};

/// Why a token could not be built or parsed. Messages never contain the
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgoraError {
    /// The app id is not 32 hexadecimal characters.
    #[error("the Agora app id must be 32 hexadecimal characters")]
    InvalidAppId,
    /// The app certificate is not 32 hexadecimal characters.
    #[error("the Agora app certificate must be 32 hexadecimal characters")]
    InvalidCertificate,
    /// [`AccessToken::build`] was called before any service was added.
    #[error("an Agora access token needs at least one service")]
    NoService,
    /// A string (or list) does not fit the format's `u16` length prefix.
    #[error("the {field} is too long for an Agora access token")]
    TooLong { field: &'static str },
    /// [`parse`] was given something that is not an RTC/RTM AccessToken2.
    #[error("not a valid Agora access token: {reason}")]
    MalformedToken { reason: &'static str },
}

/// An Agora project's app id and app certificate, both checked to be 32
/// hexadecimal characters. The certificate is a secret: `Debug` hides it.
/// Case is kept as given, since the certificate's exact bytes are signed.
#[derive(Clone, PartialEq, Eq)]
pub struct AgoraCredentials {
    app_id: String,
    certificate: String,
}

impl AgoraCredentials {
    /// Checks and wraps an app id and certificate.
    pub fn new(
        app_id: impl Into<String>,
        certificate: impl Into<String>,
    ) -> Result<Self, AgoraError> {
        let (app_id, certificate) = (app_id.into(), certificate.into());
        if !is_hex32(&app_id) {
            return Err(AgoraError::InvalidAppId);
        }
        if !is_hex32(&certificate) {
            return Err(AgoraError::InvalidCertificate);
        }
        Ok(Self {
            app_id,
            certificate,
        })
    }

    /// The app id (not secret: clients need it to join).
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The certificate itself; call only to sign or to seal it for storage,
    /// never to log or return it.
    pub fn expose_certificate(&self) -> &str {
        &self.certificate
    }
}

impl fmt::Debug for AgoraCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgoraCredentials")
            .field("app_id", &self.app_id)
            .field("certificate", &"***")
            .finish()
    }
}

fn is_hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What an RTC token lets its holder do in the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcRole {
    /// Join and publish audio, video and data streams (both parties of a call).
    Publisher,
    /// Join only. Differs from `Publisher` only when co-host authentication
    /// is enabled for the Agora project.
    Subscriber,
}

/// An RTC token for a numeric uid (0 lets any uid join).
///
/// `token_expire_secs` bounds the whole token; `privilege_expire_secs` is the
/// lifetime of joining (and, for a publisher, publishing), both counted from
/// now. Equivalent to Agora's `RtcTokenBuilder2.buildTokenWithUid`.
pub fn rtc_token_with_uid(
    credentials: &AgoraCredentials,
    channel: &str,
    uid: u32,
    role: RtcRole,
    token_expire_secs: u32,
    privilege_expire_secs: u32,
) -> Result<String, AgoraError> {
    rtc_token_with_account(
        credentials,
        channel,
        &uid_string(uid),
        role,
        token_expire_secs,
        privilege_expire_secs,
    )
}

/// An RTC token for a string user account; otherwise as
/// [`rtc_token_with_uid`]. Equivalent to Agora's
/// `RtcTokenBuilder2.buildTokenWithUserAccount`.
pub fn rtc_token_with_account(
    credentials: &AgoraCredentials,
    channel: &str,
    account: &str,
    role: RtcRole,
    token_expire_secs: u32,
    privilege_expire_secs: u32,
) -> Result<String, AgoraError> {
    rtc_access_token(
        AccessToken::new(credentials, token_expire_secs),
        channel,
        account,
        role,
        privilege_expire_secs,
    )
    .build()
}

/// An RTM token for `user_id`, whose login privilege lasts as long as the
/// token. Equivalent to Agora's `RtmTokenBuilder2.buildToken`.
pub fn rtm_token(
    credentials: &AgoraCredentials,
    user_id: &str,
    expire_secs: u32,
) -> Result<String, AgoraError> {
    AccessToken::new(credentials, expire_secs)
        .with_service(Service::rtm(user_id).with_privilege(privilege::LOGIN, expire_secs))
        .build()
}

/// Adds the RTC service that `role` calls for to `token`.
fn rtc_access_token(
    token: AccessToken,
    channel: &str,
    account: &str,
    role: RtcRole,
    privilege_expire_secs: u32,
) -> AccessToken {
    let mut rtc = Service::rtc(channel, account)
        .with_privilege(privilege::JOIN_CHANNEL, privilege_expire_secs);
    if role == RtcRole::Publisher {
        for publish in [
            privilege::PUBLISH_AUDIO_STREAM,
            privilege::PUBLISH_VIDEO_STREAM,
            privilege::PUBLISH_DATA_STREAM,
        ] {
            rtc = rtc.with_privilege(publish, privilege_expire_secs);
        }
    }
    token.with_service(rtc)
}
