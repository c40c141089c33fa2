//! Object storage for uploaded files: a directory on the local disk or an
//! S3-protocol bucket, behind one small API, on Apache Arrow's
//! `object_store` (its `LocalFileSystem` and `AmazonS3`).
//!
//! Keys look like `t/<tenant-uuid>/<file-uuid>/original`; [`Storage`]
//! refuses any other shape of key (no `..`, no leading `/`). Big files go
//! up as multipart uploads, a part at a time, and an upload that fails or
//! is dropped half-way is aborted so no parts are left behind.
//! `config`: [`S3Config`] from the environment; `transfer`: files in parts
//! to the store, and disk files out as streams.

mod config;
mod transfer;

use std::{fmt, ops::Range, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _, stream::BoxStream};
use object_store::{
    ClientOptions, GetOptions, GetResultPayload, ObjectStore, ObjectStoreExt as _, PutPayload,
    RetryConfig,
    aws::AmazonS3Builder,
    client::{HttpClient, HttpConnector},
    local::LocalFileSystem,
    path::Path as Location,
};

pub use self::config::{S3Config, Secret};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// There is no object at that key.
    #[error("object not found")]
    NotFound,
    /// The store could not be reached or answered with a server error
    /// (network, timeout, 5xx): worth a 503 and a later retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bad key or range, refused credentials, a local
    /// I/O error.
    #[error("storage error: {0}")]
    Other(String),
}

/// What [`Storage::get`] found: the object's size and a stream of the
/// bytes asked for.
pub struct Fetched {
    /// The size of the whole object.
    pub size: u64,
    /// The bytes the stream carries (the range asked for, cut at the end
    /// of the object).
    pub range: Range<u64>,
    /// The bytes themselves.
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetched")
            .field("size", &self.size)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// The object store: cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    kind: &'static str,
    /// The disk store's directory: a finished upload is moved in, not copied.
    root: Option<Arc<Path>>,
}

impl fmt::Debug for Storage {
    // Not the store's own Debug: the S3 one would print its credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Storage({})", self.kind)
    }
}

impl Storage {
    /// Files under `dir` on the local disk, which is created if missing.
    pub fn local(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the storage directory {}", dir.display()))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening the storage directory {}", dir.display()))?
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(fs),
            kind: "disk",
            root: Some(Arc::from(dir)),
        })
    }

    /// Objects in an S3-protocol bucket. Nothing is sent until first use.
    pub fn s3(cfg: &S3Config) -> anyhow::Result<Self> {
        // Our own reqwest client: a connect timeout and a timeout between
        // reads, but none on the whole request, so that a long download
        // streamed to a slow client is not cut off.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .https_only(!cfg.allow_http)
            .build()
            .context("building the S3 HTTP client")?;
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(60),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(cfg.secret_access_key.expose())
            .with_virtual_hosted_style_request(!cfg.path_style)
            .with_allow_http(cfg.allow_http)
            .with_retry(retry)
            .with_http_connector(Connector(http));
        if let Some(endpoint) = &cfg.endpoint {
            // object_store wants the bucket in a virtual-host endpoint.
            let endpoint = match endpoint.split_once("://") {
                Some((scheme, host)) if !cfg.path_style => {
                    format!("{scheme}://{}.{host}", cfg.bucket)
                }
                _ => endpoint.clone(),
            };
            builder = builder.with_endpoint(endpoint);
        }
        let s3 = builder.build().context("configuring S3")?;
        Ok(Self {
            store: Arc::new(s3),
            kind: "s3",
            root: None,
        })
    }

    /// Which store this is: `"disk"` or `"s3"`.
    pub fn describe(&self) -> &'static str {
        self.kind
    }

    /// Streams the file at `path` to `key`, a part at a time, and returns
    /// the bytes written. A multipart upload that fails is aborted.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<u64, StorageError> {
        transfer::put_file(&self.store, &location(key)?, path).await
    }

    /// Stores the file at `path` (which the caller gives up) at `key`: on
    /// the disk, moved into place when it is on the same file system (no
    /// copy); otherwise streamed like [`Storage::put_file`]. Returns the
    /// bytes stored.
    pub async fn put_spooled(&self, key: &str, path: &Path) -> Result<u64, StorageError> {
        let location = location(key)?;
        if let Some(root) = &self.root {
            let target = root.join(location.as_ref());
            let moved = async {
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::File::open(path).await?.sync_all().await?;
                tokio::fs::rename(path, &target).await?;
                sync_dir(&target).await?;
                Ok::<_, std::io::Error>(tokio::fs::metadata(&target).await?.len())
            };
            if let Ok(size) = moved.await {
                return Ok(size);
            }
        }
        let size = transfer::put_file(&self.store, &location, path).await?;
        self.sync(&location).await?;
        Ok(size)
    }

    /// On the disk, forces an object just written (and its directory entry)
    /// to the device, so a stored file survives a power cut as the
    /// database row that says so does. S3 services answer only once stored.
    async fn sync(&self, location: &Location) -> Result<(), StorageError> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let target = root.join(location.as_ref());
        let synced = async {
            tokio::fs::File::open(&target).await?.sync_all().await?;
            sync_dir(&target).await
        };
        synced
            .await
            .map_err(|err| StorageError::Other(format!("syncing {}: {err}", target.display())))
    }

    /// Stores `bytes` at `key` in one request.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let location = location(key)?;
        self.store
            .put(&location, PutPayload::from(bytes))
            .await
            .map_err(classify)?;
        self.sync(&location).await
    }

    /// The object at `key`, whole or the bytes in `range` (cut at the end
    /// of the object). An empty range, or one that starts at or past the
    /// end, is [`StorageError::Other`].
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Fetched, StorageError> {
        let location = location(key)?;
        if let Some(r) = &range
            && r.start >= r.end
        {
            return Err(StorageError::Other(format!("empty range {r:?}")));
        }
        let found = self
            .store
            .get_opts(&location, GetOptions::new().with_range(range))
            .await
            .map_err(classify)?;
        let (size, range) = (found.meta.size, found.range.clone());
        let stream = match found.payload {
            GetResultPayload::File(file, _) => transfer::disk_stream(file, range.clone()),
            GetResultPayload::Stream(s) => s.map_err(classify).boxed(),
        };
        Ok(Fetched {
            size,
            range,
            stream,
        })
    }

    /// Deletes the object at `key`; a missing one is no error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let location = location(key)?;
        match self.store.delete(&location).await.map_err(classify) {
            Ok(()) | Err(StorageError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether there is an object at `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let location = location(key)?;
        match self.store.head(&location).await.map_err(classify) {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Checks a key's shape: segments of `[A-Za-z0-9._-]` joined by `/`, none
/// empty, `.` or `..`, and no leading or trailing `/`.
fn location(key: &str) -> Result<Location, StorageError> {
    let bad = |why: &str| StorageError::Other(format!("invalid storage key {key:?}: {why}"));
    if key.is_empty() || key.len() > 512 {
        return Err(bad("empty or too long"));
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(bad("empty, `.` or `..` segment"));
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(bad("only letters, digits, `.`, `_`, `-` and `/`"));
        }
    }
    Location::parse(key).map_err(|e| bad(&e.to_string()))
}

/// Sorts object_store's errors into ours. S3's catch-all errors are
/// failed requests (network, timeouts, 5xx after retries); a 4xx among
/// them (but 408 and 429) is our mistake, not an outage.
fn classify(e: object_store::Error) -> StorageError {
    match &e {
        object_store::Error::NotFound { .. } => StorageError::NotFound,
        object_store::Error::Generic { store: "S3", .. } => {
            let text = e.to_string();
            let status = text
                .split_once("status code: ")
                .and_then(|(_, rest)| rest.get(..3)?.parse::<u16>().ok());
            match status {
                Some(s) if (400..500).contains(&s) && s != 408 && s != 429 => {
                    StorageError::Other(text)
                }
                _ => StorageError::Unavailable(text),
            }
        }
        _ => StorageError::Other(e.to_string()),
    }
}

/// Hands object_store our own reqwest client (see [`Storage::s3`]).
#[derive(Debug)]
struct Connector(reqwest::Client);

impl HttpConnector for Connector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.0.clone()))
    }
}

/// Syncs the directory holding `path`, so a rename into it is durable.
async fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => tokio::fs::File::open(dir).await?.sync_all().await,
        None => Ok(()),
    }
}
