//! Agora's published vectors, round trips, sensitivity of the signature to
//! every input, and refusal of bad input.

use std::collections::BTreeMap;

use super::*;

// The inputs of Agora's own tests (AgoraIO/Tools, accesstoken2).
const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";
const CERTIFICATE: &str = "5CFd2fd1755d40ecb72977518be15d3b";
const CHANNEL: &str = "7d72365eb983485397e3e3f9d460bdda";
const UID: u32 = 2882341273;
const ISSUE_TS: u32 = 1111111;
const EXPIRE: u32 = 600;
const SALT: u32 = 1;

/// RTC, uid 2882341273, join-channel privilege only; token and privilege
/// expire 600. Built by Agora's Python builder (whose zlib we match).
const VECTOR_RTC: &str = "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj";

/// RTC (all four privileges) plus RTM for `test_user`, all expiring at 600;
/// also from Agora's Python builder.
const VECTOR_RTC_RTM: &str = "007eJxTYOAQsrQ5s3TfH+1tvy8zZZ46EpCc0V43JXdGd2jS8porKo4KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYmIAkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzY5BZEJM4GUpSi0viS4tTiwAipyp4";

/// Agora's Go builder flushes zlib differently, so its strings differ from
/// ours; their content must not. RTC uid, RTC uid 0, RTM `test_user`.
const GO_RTC: &str = "007eJxSYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxoAAAAD//8JqJOM=";
const GO_RTC_UID0: &str = "007eJxSYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMgAAAAP//Npwiag==";
const GO_RTM: &str = "007eJxSYOCdJftjyTM2zxW6Xhm/5T0j5LdcUt/xYVt48fb5Mp3PX9coMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhJgZGBkYwn5OhJLW4JL60OLUIEAAA//9ZVh6A";

fn creds() -> AgoraCredentials {
    AgoraCredentials::new(APP_ID, CERTIFICATE).unwrap()
}

/// A token with the vector's issue time and salt.
fn pinned(creds: &AgoraCredentials) -> AccessToken {
    let mut token = AccessToken::new(creds, EXPIRE);
    token.issue_ts = ISSUE_TS;
    token.salt = SALT;
    token
}

fn rtc_service(channel: &str, uid: u32) -> Service {
    Service::rtc(channel, uid_string(uid)).with_privilege(privilege::JOIN_CHANNEL, EXPIRE)
}

#[test]
fn agoras_published_rtc_vector_is_reproduced_exactly() {
    let token = pinned(&creds())
        .with_service(rtc_service(CHANNEL, UID))
        .build()
        .unwrap();
    assert_eq!(token, VECTOR_RTC);
}

#[test]
fn a_pinned_subscriber_rtc_token_is_agoras_vector() {
    let token = rtc_access_token(
        pinned(&creds()),
        CHANNEL,
        "2882341273",
        RtcRole::Subscriber,
        EXPIRE,
    )
    .build()
    .unwrap();
    assert_eq!(token, VECTOR_RTC);
}

#[test]
fn agoras_published_rtc_and_rtm_vector_is_reproduced_exactly() {
    let token = rtc_access_token(
        pinned(&creds()),
        CHANNEL,
        &uid_string(UID),
        RtcRole::Publisher,
        EXPIRE,
    )
    .with_service(Service::rtm("test_user").with_privilege(privilege::LOGIN, EXPIRE))
    .build()
    .unwrap();
    assert_eq!(token, VECTOR_RTC_RTM);
}

#[test]
fn tokens_from_agoras_go_builder_carry_the_same_content_as_ours() {
    let ours =
        |service: Service| parse(&pinned(&creds()).with_service(service).build().unwrap()).unwrap();
    assert_eq!(parse(GO_RTC).unwrap(), ours(rtc_service(CHANNEL, UID)));
    assert_eq!(parse(GO_RTC_UID0).unwrap(), ours(rtc_service(CHANNEL, 0)));
    assert_eq!(
        parse(GO_RTM).unwrap(),
        ours(Service::rtm("test_user").with_privilege(privilege::LOGIN, EXPIRE))
    );
    for token in [GO_RTC, GO_RTC_UID0, GO_RTM, VECTOR_RTC, VECTOR_RTC_RTM] {
        assert!(verify(&parse(token).unwrap(), &creds()), "{token}");
    }
}

#[test]
fn the_published_vector_parses_into_its_inputs() {
    let parsed = parse(VECTOR_RTC).unwrap();
    assert_eq!(parsed.app_id, APP_ID);
    assert_eq!(
        (parsed.issue_ts, parsed.expire, parsed.salt),
        (ISSUE_TS, EXPIRE, SALT)
    );
    assert_eq!(parsed.expires_at(), 1111711);
    assert_eq!(parsed.services, vec![rtc_service(CHANNEL, UID)]);
}

#[test]
fn an_rtc_token_with_a_uid_round_trips_and_verifies() {
    let token = rtc_token_with_uid(&creds(), "call-42", 7, RtcRole::Publisher, 3600, 1800).unwrap();
    let parsed = parse(&token).unwrap();
    assert!(verify(&parsed, &creds()));
    assert_eq!(parsed.app_id, APP_ID);
    assert_eq!(parsed.expire, 3600);
    assert!((1..=99_999_999).contains(&parsed.salt));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(u64::from(parsed.issue_ts).abs_diff(now) <= 5);
    let Service::Rtc {
        channel_name,
        uid,
        privileges,
    } = &parsed.services[0]
    else {
        panic!("expected RTC, got {:?}", parsed.services);
    };
    assert_eq!((channel_name.as_str(), uid.as_str()), ("call-42", "7"));
    assert_eq!(
        privileges,
        &BTreeMap::from([(1, 1800), (2, 1800), (3, 1800), (4, 1800)])
    );
}

#[test]
fn uid_zero_means_any_uid_and_is_written_empty() {
    let token = rtc_token_with_uid(&creds(), "c", 0, RtcRole::Subscriber, 60, 60).unwrap();
    let parsed = parse(&token).unwrap();
    assert!(verify(&parsed, &creds()));
    assert_eq!(
        parsed.services,
        vec![Service::rtc("c", "").with_privilege(privilege::JOIN_CHANNEL, 60)]
    );
}

#[test]
fn an_rtc_token_with_an_account_round_trips_and_verifies() {
    let account = "019a1c2e-astrologer-ज्योति";
    let token = rtc_token_with_account(&creds(), "call-43", account, RtcRole::Subscriber, 600, 300)
        .unwrap();
    let parsed = parse(&token).unwrap();
    assert!(verify(&parsed, &creds()));
    assert_eq!(
        parsed.services,
        vec![Service::rtc("call-43", account).with_privilege(privilege::JOIN_CHANNEL, 300)]
    );
}

#[test]
fn an_rtm_token_round_trips_and_verifies() {
    let token = rtm_token(&creds(), "participant-9", 900).unwrap();
    let parsed = parse(&token).unwrap();
    assert!(verify(&parsed, &creds()));
    assert_eq!(parsed.expire, 900);
    assert_eq!(
        parsed.services,
        vec![Service::rtm("participant-9").with_privilege(privilege::LOGIN, 900)]
    );
}

#[test]
fn services_are_packed_in_type_order_whatever_order_they_were_added() {
    let rtm = Service::rtm("u").with_privilege(privilege::LOGIN, 60);
    let rtc = rtc_service("c", 1);
    let a = pinned(&creds())
        .with_service(rtm.clone())
        .with_service(rtc.clone());
    let b = pinned(&creds())
        .with_service(rtc.clone())
        .with_service(rtm.clone());
    assert_eq!(a.build().unwrap(), b.build().unwrap());
    assert_eq!(parse(&a.build().unwrap()).unwrap().services, vec![rtc, rtm]);
}

#[test]
fn another_certificate_or_app_id_does_not_verify() {
    let parsed = parse(VECTOR_RTC).unwrap();
    let other_cert = AgoraCredentials::new(APP_ID, "5CFd2fd1755d40ecb72977518be15d3c").unwrap();
    let other_app = AgoraCredentials::new("070CA35de60c44645bbae8a215061b33", CERTIFICATE).unwrap();
    let other_case = AgoraCredentials::new(APP_ID, CERTIFICATE.to_lowercase()).unwrap();
    assert!(verify(&parsed, &creds()));
    assert!(!verify(&parsed, &other_cert));
    assert!(!verify(&parsed, &other_app));
    assert!(
        !verify(&parsed, &other_case),
        "the certificate's case is signed"
    );
}

#[test]
fn a_token_edited_after_signing_does_not_verify() {
    // Content: signature (2 + 32), app id (2 + 32), issue ts, expire, ...
    const EXPIRE_AT: usize = 68 + 4;
    let mut content = inflate(VECTOR_RTC);
    content[EXPIRE_AT..EXPIRE_AT + 4].copy_from_slice(&86_400u32.to_le_bytes());
    let longer = parse(&deflate(&content)).unwrap();
    assert_eq!(longer.expire, 86_400);
    assert!(!verify(&longer, &creds()));

    let mut content = inflate(VECTOR_RTC);
    content[2] ^= 1;
    let bad_signature = parse(&deflate(&content)).unwrap();
    assert!(!verify(&bad_signature, &creds()));
}

#[test]
fn every_input_changes_the_token_and_every_signed_input_its_signature() {
    let base = || Inputs::default();
    let baseline = base().build();
    let variants: Vec<(&str, Inputs)> = vec![
        (
            "app id",
            Inputs {
                app_id: "070CA35de60c44645bbae8a215061b33",
                ..base()
            },
        ),
        (
            "certificate",
            Inputs {
                certificate: "6CFd2fd1755d40ecb72977518be15d3b",
                ..base()
            },
        ),
        (
            "channel",
            Inputs {
                channel: "7d72365eb983485397e3e3f9d460bddb",
                ..base()
            },
        ),
        (
            "uid",
            Inputs {
                uid: UID + 1,
                ..base()
            },
        ),
        ("uid 0", Inputs { uid: 0, ..base() }),
        (
            "token expire",
            Inputs {
                expire: EXPIRE + 1,
                ..base()
            },
        ),
        (
            "privilege expire",
            Inputs {
                privilege_expire: EXPIRE + 1,
                ..base()
            },
        ),
        (
            "salt",
            Inputs {
                salt: SALT + 1,
                ..base()
            },
        ),
        (
            "issue ts",
            Inputs {
                issue_ts: ISSUE_TS + 1,
                ..base()
            },
        ),
        (
            "role",
            Inputs {
                role: RtcRole::Publisher,
                ..base()
            },
        ),
    ];
    for (what, inputs) in variants {
        let token = inputs.build();
        assert_ne!(token, baseline, "{what}");
        assert_ne!(
            inflate(&token)[..34],
            inflate(&baseline)[..34],
            "the signature ignores the {what}"
        );
    }
}

/// The inputs of an RTC token, defaulting to the vector's.
struct Inputs {
    app_id: &'static str,
    certificate: &'static str,
    channel: &'static str,
    uid: u32,
    expire: u32,
    privilege_expire: u32,
    salt: u32,
    issue_ts: u32,
    role: RtcRole,
}

impl Default for Inputs {
    fn default() -> Self {
        Self {
            app_id: APP_ID,
            certificate: CERTIFICATE,
            channel: CHANNEL,
            uid: UID,
            expire: EXPIRE,
            privilege_expire: EXPIRE,
            salt: SALT,
            issue_ts: ISSUE_TS,
            role: RtcRole::Subscriber,
        }
    }
}

impl Inputs {
    fn build(&self) -> String {
        let creds = AgoraCredentials::new(self.app_id, self.certificate).unwrap();
        let mut token = AccessToken::new(&creds, self.expire);
        token.issue_ts = self.issue_ts;
        token.salt = self.salt;
        rtc_access_token(
            token,
            self.channel,
            &uid_string(self.uid),
            self.role,
            self.privilege_expire,
        )
        .build()
        .unwrap()
    }
}

#[test]
fn the_default_inputs_are_the_vectors() {
    assert_eq!(Inputs::default().build(), VECTOR_RTC);
}

#[test]
fn credentials_that_are_not_32_hex_characters_are_refused() {
    for bad in [
        "",
        "abc",
        "970CA35de60c44645bbae8a215061b3",
        "970CA35de60c44645bbae8a215061b333",
        "Z70CA35de60c44645bbae8a215061b33",
        " 970CA35de60c44645bbae8a215061b3",
        "970CA35de60c44645bbae8a215061b3\n",
        "éééééééééééééééé", // 32 bytes, 16 characters
        "0x0CA35de60c44645bbae8a215061b33",
    ] {
        assert_eq!(
            AgoraCredentials::new(bad, CERTIFICATE),
            Err(AgoraError::InvalidAppId),
            "{bad:?}"
        );
        assert_eq!(
            AgoraCredentials::new(APP_ID, bad),
            Err(AgoraError::InvalidCertificate),
            "{bad:?}"
        );
    }
}

#[test]
fn debug_output_never_shows_the_certificate() {
    let printed = format!("{:?}", pinned(&creds()));
    assert!(printed.contains(APP_ID), "{printed}");
    assert!(!printed.contains(CERTIFICATE), "{printed}");
    let err = AgoraCredentials::new(APP_ID, "5CFd2fd1755d40ecb72977518be15d3").unwrap_err();
    assert!(!err.to_string().contains("5CFd"), "{err}");
}

#[test]
fn a_token_without_services_or_with_oversized_strings_is_refused() {
    assert_eq!(pinned(&creds()).build(), Err(AgoraError::NoService));
    let long = "x".repeat(65_536);
    assert_eq!(
        rtc_token_with_account(&creds(), &long, "a", RtcRole::Publisher, 60, 60),
        Err(AgoraError::TooLong {
            field: "channel name"
        })
    );
    assert_eq!(
        rtc_token_with_account(&creds(), "c", &long, RtcRole::Publisher, 60, 60),
        Err(AgoraError::TooLong { field: "uid" })
    );
    assert_eq!(
        rtm_token(&creds(), &long, 60),
        Err(AgoraError::TooLong { field: "user id" })
    );
}

#[test]
fn garbage_tokens_are_errors_not_panics() {
    let malformed = |token: &str| {
        assert!(
            matches!(parse(token), Err(AgoraError::MalformedToken { .. })),
            "{token:.40}"
        )
    };
    for token in [
        "",
        "0",
        "007",
        "006eJxTYBBbsMMnKq7p9Hf",
        "7d72365eb983485397e3e3f9d460bdda",
        "007!!!!",
        "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCi", // cut short
        "007\u{e9}\u{e9}\u{e9}",
        "\u{e9}07eJxTYBBbsMMnKq7p9Hf",
        "007aGVsbG8gd29ybGQ=", // base64 of text, not zlib
    ] {
        malformed(token);
    }
    malformed(&format!("007{}", "A".repeat(20_000)));

    let content = inflate(VECTOR_RTC);
    // Every truncation of a valid content, and bytes after its end.
    for len in 0..content.len() {
        malformed(&deflate(&content[..len]));
    }
    let mut longer = content.clone();
    longer.push(0);
    malformed(&deflate(&longer));
    // A service type other than RTC/RTM (offset: after 34 + 34 + 12 + 2).
    let mut unknown = content.clone();
    unknown[82] = 9;
    malformed(&deflate(&unknown));
    // The same service twice.
    let mut twice = content[..80].to_vec();
    twice.extend_from_slice(&2u16.to_le_bytes());
    twice.extend_from_slice(&content[82..]);
    twice.extend_from_slice(&content[82..]);
    malformed(&deflate(&twice));
    // A megabyte of zeros compresses into a short token; it must not inflate.
    malformed(&deflate(&vec![0; 1 << 20]));
    // Bytes that are no token at all, whatever they inflate to.
    for seed in 0u32..200 {
        let noise: Vec<u8> = (0..seed % 97)
            .map(|i| (seed.wrapping_mul(2_654_435_761) ^ i.wrapping_mul(40_503)) as u8)
            .collect();
        let _ = parse(&deflate(&noise));
        let _ = parse(&format!(
            "007{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &noise)
        ));
    }
}

/// The content of a token (the inverse of [`deflate`]).
fn inflate(token: &str) -> Vec<u8> {
    use base64::Engine;
    use std::io::Read;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(&token[3..])
        .unwrap();
    let mut content = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_end(&mut content)
        .unwrap();
    content
}

/// A token around any content, signed or not.
fn deflate(content: &[u8]) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(content).unwrap();
    format!(
        "007{}",
        base64::engine::general_purpose::STANDARD.encode(zlib.finish().unwrap())
    )
}
