//! Signed download links: what an `<img>` or an audio player fetches
//! without an `Authorization` header. A link names the tenant, the file,
//! the variant and an expiry, and carries an HMAC-SHA256 of the four under
//! a key derived from the server's secret; the content endpoints check it
//! (403 when expired or tampered) and then the file's state, so a deleted
//! file's links die with it.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};

use super::StoredFile;
use crate::{
    domain::{FileId, TenantId},
    error::{AppError, AppResult},
};

/// One of a file's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Small,
    Medium,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Small => "small",
            Self::Medium => "medium",
        }
    }

    /// The thumbnail a `size` parameter names.
    pub fn thumbnail(size: &str) -> Option<Self> {
        match size {
            "small" => Some(Self::Small),
            "medium" => Some(Self::Medium),
            _ => None,
        }
    }
}

/// Signs and checks download links.
#[derive(Clone)]
pub struct Links {
    key: [u8; 32],
    base: String,
    ttl: chrono::Duration,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("base", &self.base)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Links {
    /// `base` is the server's public URL; links live `ttl`.
    pub fn new(key: [u8; 32], base: &str, ttl: std::time::Duration) -> Self {
        Self {
            key,
            base: base.trim_end_matches('/').to_owned(),
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1)),
        }
    }

    /// When links made now expire (whole seconds).
    pub fn expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        DateTime::from_timestamp((now + self.ttl).timestamp(), 0).unwrap_or(now)
    }

    fn signature(&self, tenant: TenantId, id: FileId, variant: Variant, exp: i64) -> String {
        use base64::Engine;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{}.{}.{}.{exp}", tenant.0, id.0, variant.as_str()).as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The signed link to a variant of a file, valid until `exp`.
    pub fn url(&self, file: &StoredFile, variant: Variant, exp: DateTime<Utc>) -> String {
        self.url_for(file.tenant_id, file.id, variant, exp)
    }

    /// The signed link to a variant of a tenant's file, valid until `exp`.
    pub fn url_for(
        &self,
        tenant: TenantId,
        id: FileId,
        variant: Variant,
        exp: DateTime<Utc>,
    ) -> String {
        let exp = exp.timestamp();
        let sig = self.signature(tenant, id, variant, exp);
        let path = match variant {
            Variant::Original => "content".to_owned(),
            other => format!("thumbnail?size={}&", other.as_str()),
        };
        let sep = if variant == Variant::Original {
            "?"
        } else {
            ""
        };
        format!(
            "{}/api/files/{}/{path}{sep}t={}&e={exp}&s={sig}",
            self.base,
            id.0,
            tenant_param(tenant)
        )
    }

    /// Checks a link's tenant, expiry and signature: 403 when expired or
    /// not ours.
    pub fn check(
        &self,
        tenant: &str,
        id: FileId,
        variant: Variant,
        exp: i64,
        sig: &str,
    ) -> AppResult<TenantId> {
        let forbidden = |message: &str| AppError::Forbidden {
            code: "bad_link",
            message: message.to_owned(),
        };
        let tenant = uuid::Uuid::parse_str(tenant)
            .map(TenantId)
            .map_err(|_| forbidden("this link is not valid"))?;
        let expected = self.signature(tenant, id, variant, exp);
        if !crate::domain::secrets::same(expected.as_bytes(), sig.as_bytes()) {
            return Err(forbidden("this link is not valid"));
        }
        if exp < Utc::now().timestamp() {
            return Err(forbidden(
                "this link has expired; fetch the file again for a new one",
            ));
        }
        Ok(tenant)
    }
}

fn tenant_param(tenant: TenantId) -> String {
    tenant.0.simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ParticipantId, file::*};

    fn file() -> StoredFile {
        StoredFile {
            tenant_id: TenantId::new(),
            id: FileId::new(),
            uploader_id: ParticipantId::new(),
            kind: FileKind::Image,
            mime_type: "image/png".into(),
            name: "a.png".into(),
            size: 1,
            sha256: vec![0; 32],
            width: None,
            height: None,
            duration_ms: None,
            waveform: None,
            active: false,
            state: FileState::Ready,
            thumbs: Thumbs::Pending,
            thumb_sizes: None,
            created_at: Utc::now(),
            sent_at: None,
        }
    }

    fn params(url: &str) -> (String, i64, String) {
        let query = url.split_once('?').unwrap().1;
        let get = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_owned()
        };
        (get("t"), get("e").parse().unwrap(), get("s"))
    }

    #[test]
    fn a_link_checks_until_it_expires_and_only_for_its_variant() {
        let links = Links::new([7; 32], "http://x/", std::time::Duration::from_secs(600));
        let f = file();
        let url = links.url(&f, Variant::Original, links.expiry(Utc::now()));
        assert!(url.starts_with(&format!("http://x/api/files/{}/content?t=", f.id.0)));
        let (t, e, s) = params(&url);
        assert_eq!(
            links.check(&t, f.id, Variant::Original, e, &s).unwrap(),
            f.tenant_id
        );
        assert!(links.check(&t, f.id, Variant::Small, e, &s).is_err());
        assert!(
            links
                .check(&t, FileId::new(), Variant::Original, e, &s)
                .is_err()
        );
        assert!(
            links
                .check(&t, f.id, Variant::Original, e + 60, &s)
                .is_err()
        );
        let past = Utc::now() - chrono::Duration::minutes(5);
        let (t, e, s) = params(&links.url(&f, Variant::Original, past));
        assert!(links.check(&t, f.id, Variant::Original, e, &s).is_err());
        let thumb = links.url(&f, Variant::Small, links.expiry(Utc::now()));
        assert!(thumb.contains("/thumbnail?size=small&t="));
    }
}
