//! Where S3 is and how to sign in to it, read from the environment.
//!
//! `SAMVAD_S3_BUCKET` switches S3 on; without it files stay on the disk.

pub use crate::config::Secret;

/// An S3 (or S3-protocol: MinIO, R2, Ceph, moto) bucket and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The service's base URL (`https://s3.example.com`); `None` is AWS.
    pub endpoint: Option<String>,
    /// The bucket that holds every object.
    pub bucket: String,
    /// The region to sign for (`us-east-1` unless set).
    pub region: String,
    /// Path-style URLs (`endpoint/bucket/key`) rather than virtual hosts
    /// (`bucket.endpoint/key`).
    pub path_style: bool,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// Whether a plain `http://` endpoint is accepted.
    pub allow_http: bool,
}

impl S3Config {
    /// Reads the `SAMVAD_S3_*` variables through `get` (`std::env::var`
    /// in production, a map in tests).
    ///
    /// `Ok(None)` when `SAMVAD_S3_BUCKET` is unset or empty (S3 is off).
    /// Keys fall back to `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`;
    /// an error names the variable that is missing or malformed.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<S3Config>, String> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(bucket) = var("SAMVAD_S3_BUCKET") else {
            return Ok(None);
        };
        let endpoint = var("SAMVAD_S3_ENDPOINT").map(|e| e.trim_end_matches('/').to_owned());
        if let Some(e) = &endpoint
            && !(e.starts_with("https://") || e.starts_with("http://"))
        {
            return Err(format!(
                "SAMVAD_S3_ENDPOINT must start with https:// or http://, got {e:?}"
            ));
        }
        let path_style = match var("SAMVAD_S3_PATH_STYLE").as_deref() {
            None => endpoint.is_some(),
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                return Err(format!(
                    "SAMVAD_S3_PATH_STYLE must be true or false, got {other:?}"
                ));
            }
        };
        let access_key_id = var("SAMVAD_S3_ACCESS_KEY_ID")
            .or_else(|| var("AWS_ACCESS_KEY_ID"))
            .ok_or("SAMVAD_S3_ACCESS_KEY_ID (or AWS_ACCESS_KEY_ID) is not set")?;
        let secret = var("SAMVAD_S3_SECRET_ACCESS_KEY")
            .or_else(|| var("AWS_SECRET_ACCESS_KEY"))
            .ok_or("SAMVAD_S3_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY) is not set")?;
        let allow_http = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        Ok(Some(S3Config {
            endpoint,
            bucket,
            region: var("SAMVAD_S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
            path_style,
            access_key_id,
            secret_access_key: Secret::new(secret),
            allow_http,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn off_without_a_bucket() {
        assert_eq!(S3Config::from_env(env(&[])), Ok(None));
        assert_eq!(
            S3Config::from_env(env(&[("SAMVAD_S3_BUCKET", " ")])),
            Ok(None)
        );
    }

    #[test]
    fn defaults_and_aws_fallbacks() {
        let cfg = S3Config::from_env(env(&[
            ("SAMVAD_S3_BUCKET", "files"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "hunter2"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(cfg.region, "us-east-1");
        assert_eq!(cfg.endpoint, None);
        assert!(!cfg.path_style && !cfg.allow_http);
        assert_eq!(cfg.access_key_id, "AKID");
        assert_eq!(cfg.secret_access_key.expose(), "hunter2");
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn endpoint_implies_path_style_unless_told() {
        let base = [
            ("SAMVAD_S3_BUCKET", "files"),
            ("SAMVAD_S3_ENDPOINT", "http://127.0.0.1:9000/"),
            ("SAMVAD_S3_ACCESS_KEY_ID", "a"),
            ("SAMVAD_S3_SECRET_ACCESS_KEY", "s"),
            ("SAMVAD_S3_REGION", "eu-west-1"),
        ];
        let cfg = S3Config::from_env(env(&base)).unwrap().unwrap();
        assert!(cfg.path_style && cfg.allow_http);
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(cfg.region, "eu-west-1");
        let mut off = base.to_vec();
        off.push(("SAMVAD_S3_PATH_STYLE", "false"));
        assert!(!S3Config::from_env(env(&off)).unwrap().unwrap().path_style);
    }

    #[test]
    fn errors_name_the_variable() {
        let err = S3Config::from_env(env(&[("SAMVAD_S3_BUCKET", "b")])).unwrap_err();
        assert!(err.contains("SAMVAD_S3_ACCESS_KEY_ID"), "{err}");
        let err = S3Config::from_env(env(&[
            ("SAMVAD_S3_BUCKET", "b"),
            ("SAMVAD_S3_ACCESS_KEY_ID", "a"),
        ]))
        .unwrap_err();
        assert!(err.contains("SAMVAD_S3_SECRET_ACCESS_KEY"), "{err}");
        let err = S3Config::from_env(env(&[
            ("SAMVAD_S3_BUCKET", "b"),
            ("SAMVAD_S3_PATH_STYLE", "maybe"),
        ]))
        .unwrap_err();
        assert!(err.contains("SAMVAD_S3_PATH_STYLE"), "{err}");
        let err = S3Config::from_env(env(&[
            ("SAMVAD_S3_BUCKET", "b"),
            ("SAMVAD_S3_ENDPOINT", "s3.example.com"),
        ]))
        .unwrap_err();
        assert!(err.contains("SAMVAD_S3_ENDPOINT"), "{err}");
    }
}
