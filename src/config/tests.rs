//! Tests of reading the configuration.

use super::*;

/// A fresh directory under the system's temporary one (not yet created).
fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("samvad-config-{}", uuid::Uuid::now_v7().simple()))
}

/// The configuration these variables give; without `SAMVAD_DATA_DIR`, one
/// temporary data directory shared by every run (never the working
/// directory's `data`, and not a new one per run left behind).
fn with(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
    let mut pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if !pairs.iter().any(|(k, _)| k == "SAMVAD_DATA_DIR") {
        let dir = std::env::temp_dir().join("samvad-config-tests");
        pairs.push((
            "SAMVAD_DATA_DIR".to_owned(),
            dir.to_string_lossy().into_owned(),
        ));
    }
    Config::from_lookup(move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
}

#[test]
fn defaults_are_a_working_dev_setup() {
    let config = with(&[]).unwrap();
    assert_eq!(config.env, Environment::Dev);
    assert_eq!(config.bind.to_string(), DEFAULT_BIND);
    assert_eq!(config.database_url.expose(), DEFAULT_DATABASE_URL);
    assert_eq!(config.body_limit, 1024 * 1024);
    assert!(config.jwt_secret.expose().len() >= 32);
}

#[test]
fn production_refuses_to_start_without_a_jwt_secret() {
    let dir = temp_dir();
    let err = with(&[
        ("SAMVAD_ENV", "production"),
        ("SAMVAD_CORS_ORIGINS", "https://a.example"),
        ("SAMVAD_DATA_DIR", &dir.to_string_lossy()),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("SAMVAD_JWT_SECRET"), "{err}");
    // Not even a kept development secret stands in for it.
    assert!(!dir.join("jwt.key").exists());
}

#[test]
fn dev_without_a_jwt_secret_keeps_one_under_the_data_dir_across_loads() {
    let dir = temp_dir();
    let dir_text = dir.to_string_lossy().into_owned();

    let first = with(&[("SAMVAD_DATA_DIR", &dir_text)]).unwrap();
    let second = with(&[("SAMVAD_DATA_DIR", &dir_text)]).unwrap();
    let elsewhere = with(&[]).unwrap();

    assert_eq!(first.jwt_secret, second.jwt_secret);
    assert!(first.jwt_secret.expose().len() >= 32);
    assert_ne!(first.jwt_secret, elsewhere.jwt_secret);
    let kept = std::fs::read_to_string(dir.join("jwt.key")).unwrap();
    assert_eq!(kept, first.jwt_secret.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("jwt.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_given_jwt_secret_wins_over_the_kept_one_and_makes_no_file() {
    let dir = temp_dir();
    let dir_text = dir.to_string_lossy().into_owned();
    let secret = "g".repeat(32);

    let config = with(&[
        ("SAMVAD_DATA_DIR", &dir_text),
        ("SAMVAD_JWT_SECRET", &secret),
    ])
    .unwrap();

    assert_eq!(config.jwt_secret.expose(), secret);
    assert!(!dir.join("jwt.key").exists());
}

#[test]
fn a_kept_jwt_secret_that_is_too_short_is_refused() {
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("jwt.key"), "short").unwrap();

    let err = with(&[("SAMVAD_DATA_DIR", &dir.to_string_lossy())]).unwrap_err();

    assert!(err.to_string().contains("jwt.key"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn production_refuses_a_wildcard_cors_origin() {
    let secret = "x".repeat(32);
    for origins in [None, Some("*"), Some("https://a.example, *")] {
        let mut pairs = vec![
            ("SAMVAD_ENV", "production"),
            ("SAMVAD_JWT_SECRET", secret.as_str()),
        ];
        if let Some(o) = origins {
            pairs.push(("SAMVAD_CORS_ORIGINS", o));
        }
        let err = with(&pairs).unwrap_err();
        assert!(err.to_string().contains("SAMVAD_CORS_ORIGINS"), "{err}");
    }
}

#[test]
fn production_starts_with_a_secret_and_explicit_origins() {
    let secret = "y".repeat(40);
    let config = with(&[
        ("SAMVAD_ENV", "production"),
        ("SAMVAD_JWT_SECRET", &secret),
        (
            "SAMVAD_CORS_ORIGINS",
            "https://a.example/, https://b.example",
        ),
        ("SAMVAD_DATA_KEY", &"ab".repeat(32)),
    ])
    .unwrap();
    assert_eq!(
        config.cors_origins,
        CorsOrigins::List(vec!["https://a.example".into(), "https://b.example".into()])
    );
}

#[test]
fn the_data_key_is_64_hex_characters_and_required_in_production() {
    let secret = "y".repeat(40);
    let production = [
        ("SAMVAD_ENV", "production"),
        ("SAMVAD_JWT_SECRET", secret.as_str()),
        ("SAMVAD_CORS_ORIGINS", "https://a.example"),
    ];
    let err = with(&production).unwrap_err();
    assert!(err.to_string().contains("SAMVAD_DATA_KEY"), "{err}");
    let key = "0a".repeat(32);
    let mut pairs = production.to_vec();
    pairs.push(("SAMVAD_DATA_KEY", &key));
    assert!(with(&pairs).is_ok());
    assert!(with(&[("SAMVAD_DATA_KEY", "abc")]).is_err());
    assert!(with(&[("SAMVAD_DATA_KEY", &"zz".repeat(32))]).is_err());
    assert_eq!(parse_key(&key).unwrap(), [10u8; 32]);
}

#[test]
fn a_short_jwt_secret_is_refused_everywhere() {
    assert!(with(&[("SAMVAD_JWT_SECRET", "short")]).is_err());
}

#[test]
fn debug_output_never_shows_secrets() {
    let config = with(&[("SAMVAD_JWT_SECRET", &"s3cr3t".repeat(8))]).unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("s3cr3t"), "{printed}");
}

#[test]
fn malformed_or_zero_numbers_are_reported_with_their_variable() {
    for bad in ["lots", "0", "-1"] {
        let err = with(&[("SAMVAD_BODY_LIMIT", bad)]).unwrap_err();
        assert!(err.to_string().contains("SAMVAD_BODY_LIMIT"), "{err}");
    }
    assert!(with(&[("SAMVAD_POLICY_REFRESH", "0")]).is_err());
}

#[test]
fn an_empty_or_malformed_origin_list_is_refused_not_read_as_any() {
    for bad in [
        ",",
        " , ",
        "https://*.x.example",
        "app.example",
        "https://a.example/path",
        "ftp://a.example",
    ] {
        let err = with(&[("SAMVAD_CORS_ORIGINS", bad)]).unwrap_err();
        assert!(
            err.to_string().contains("SAMVAD_CORS_ORIGINS"),
            "{bad}: {err}"
        );
    }
    let ok = with(&[(
        "SAMVAD_CORS_ORIGINS",
        "http://localhost:5173,https://[::1]:8443",
    )])
    .unwrap();
    assert_eq!(
        ok.cors_origins,
        CorsOrigins::List(vec![
            "http://localhost:5173".into(),
            "https://[::1]:8443".into()
        ])
    );
}

#[test]
fn writers_default_to_two_one_per_node_of_several_and_must_leave_pooled_connections_free() {
    assert_eq!(with(&[]).unwrap().writers, 2);
    let redis = ("REDIS_URL", "redis://127.0.0.1:6379/");
    assert_eq!(with(&[redis]).unwrap().writers, 1);
    assert_eq!(with(&[redis, ("SAMVAD_WRITERS", "2")]).unwrap().writers, 2);
    let four = with(&[("SAMVAD_WRITERS", "4")]).unwrap();
    assert_eq!(four.writers, 4);
    assert_eq!(
        four.pool_connections(),
        16,
        "the writers' are part of the 20"
    );
    for bad in [
        vec![("SAMVAD_WRITERS", "0")],
        vec![("SAMVAD_WRITERS", "33")],
        vec![("SAMVAD_WRITERS", "8"), ("SAMVAD_DB_MAX_CONNECTIONS", "8")],
    ] {
        let err = with(&bad).unwrap_err();
        assert!(err.to_string().contains("SAMVAD_WRITERS"), "{err}");
    }
}

#[test]
fn the_batch_wait_is_off_unless_set_and_at_most_fifty_milliseconds() {
    use std::time::Duration;
    assert_eq!(with(&[]).unwrap().batch_wait, Duration::ZERO);
    let off = with(&[("SAMVAD_BATCH_WAIT_MS", "0")]).unwrap();
    assert_eq!(off.batch_wait, Duration::ZERO);
    let five = with(&[("SAMVAD_BATCH_WAIT_MS", "5")]).unwrap();
    assert_eq!(five.batch_wait, Duration::from_millis(5));
    for bad in ["51", "-1", "1.5", "soon"] {
        let err = with(&[("SAMVAD_BATCH_WAIT_MS", bad)]).unwrap_err();
        assert!(err.to_string().contains("SAMVAD_BATCH_WAIT_MS"), "{err}");
    }
}
