//! Agora's published vectors, round trips and verification; the
//! sensitivity of the signature to every input (`sensitivity`) and the
//! refusal of bad input (`refusals`).

mod refusals;
mod sensitivity;

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
