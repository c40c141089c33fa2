//! Bad credentials and bad tokens are refused; secrets never print.

use super::*;

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
