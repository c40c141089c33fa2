//! Moving bytes: a local file to the store a part at a time (multipart,
//! aborted on failure or cancellation), and a stored file on the local disk
//! out as a stream.

use std::{io::SeekFrom, ops::Range, path::Path, sync::Arc};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _, stream::BoxStream};
use object_store::{
    MultipartUpload, ObjectStore, ObjectStoreExt as _, PutPayload, path::Path as Location,
};
use tokio::{
    fs::File,
    io::{AsyncReadExt as _, AsyncSeekExt as _},
    task::JoinSet,
};

use super::{StorageError, classify};

/// The size of one multipart part (S3's minimum for all parts but the last).
/// A file no bigger than this goes up in one request.
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts uploading at once for one file, while the next is read (memory:
/// `PART_SIZE` times this plus two).
const PARTS_IN_FLIGHT: usize = 2;
/// The chunk size of a download streamed from the local disk.
const DISK_CHUNK: u64 = 64 * 1024;

/// Streams the file at `path` to `location`: one request when it fits in
/// a part, else a multipart upload, aborted if anything fails.
pub(super) async fn put_file(
    store: &Arc<dyn ObjectStore>,
    location: &Location,
    path: &Path,
) -> Result<u64, StorageError> {
    let read_err =
        |e: std::io::Error| StorageError::Other(format!("reading {}: {e}", path.display()));
    let mut file = File::open(path).await.map_err(read_err)?;
    let first = read_up_to(&mut file, PART_SIZE).await.map_err(read_err)?;
    let second = read_up_to(&mut file, PART_SIZE).await.map_err(read_err)?;
    if second.is_empty() {
        let written = first.len() as u64;
        store.put(location, first.into()).await.map_err(classify)?;
        return Ok(written);
    }
    let upload = store.put_multipart(location).await.map_err(classify)?;
    let mut pending = Pending(Some(upload));
    match pending.send(&mut file, first, second).await {
        Ok(written) => Ok(written),
        Err(e) => {
            pending.abort().await;
            Err(match e {
                PartError::Read(e) => read_err(e),
                PartError::Store(e) => e,
            })
        }
    }
}

/// Reads `len` bytes, fewer only at the end of the file.
async fn read_up_to(file: &mut File, len: usize) -> std::io::Result<Bytes> {
    let mut buf = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    if filled < len {
        buf.truncate(filled);
        buf.shrink_to_fit();
    }
    Ok(Bytes::from(buf))
}

/// Streams `range` of a stored file in `DISK_CHUNK`s.
pub(super) fn disk_stream(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StorageError>> {
    let io = |e: std::io::Error| StorageError::Other(format!("reading a stored file: {e}"));
    futures_util::stream::once(async move {
        let mut file = File::from_std(file);
        file.seek(SeekFrom::Start(range.start)).await.map_err(io)?;
        let left = range.end - range.start;
        Ok(futures_util::stream::try_unfold(
            (file, left),
            move |(mut file, left)| async move {
                if left == 0 {
                    return Ok(None);
                }
                // left.min(DISK_CHUNK) <= DISK_CHUNK, a usize.
                let chunk = read_up_to(&mut file, left.min(DISK_CHUNK) as usize)
                    .await
                    .map_err(io)?;
                let read = chunk.len();
                if read == 0 {
                    return Err(StorageError::Other("a stored file ended early".into()));
                }
                Ok(Some((chunk, (file, left - read as u64))))
            },
        ))
    })
    .try_flatten()
    .boxed()
}

/// Why sending parts failed: reading the source, or the store.
enum PartError {
    Read(std::io::Error),
    Store(StorageError),
}

/// A multipart upload not yet completed; dropped as such (a cancelled
/// request), it is aborted in the background.
struct Pending(Option<Box<dyn MultipartUpload>>);

impl Pending {
    /// Uploads `first`, `second` and the rest of `file`, then completes.
    async fn send(
        &mut self,
        file: &mut File,
        first: Bytes,
        second: Bytes,
    ) -> Result<u64, PartError> {
        let Some(upload) = self.0.as_mut() else {
            return Err(PartError::Store(StorageError::Other(
                "upload already ended".into(),
            )));
        };
        let mut in_flight = JoinSet::new();
        let (mut part, mut next, mut written) = (first, second, 0);
        while !part.is_empty() {
            while in_flight.len() >= PARTS_IN_FLIGHT {
                join_one(&mut in_flight).await?;
            }
            written += part.len() as u64;
            in_flight.spawn(upload.put_part(PutPayload::from(part)));
            part = next;
            next = if part.is_empty() {
                Bytes::new()
            } else {
                read_up_to(file, PART_SIZE).await.map_err(PartError::Read)?
            };
        }
        while !in_flight.is_empty() {
            join_one(&mut in_flight).await?;
        }
        upload
            .complete()
            .await
            .map_err(|e| PartError::Store(classify(e)))?;
        self.0 = None;
        Ok(written)
    }

    /// Aborts the upload, dropping its parts; a failure is only logged.
    async fn abort(&mut self) {
        if let Some(mut upload) = self.0.take()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(error = %e, "aborting a multipart upload failed");
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut upload) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(error = %e, "aborting a dropped multipart upload failed");
                }
            });
        }
    }
}

/// Waits for one part upload and surfaces its error.
async fn join_one(set: &mut JoinSet<object_store::Result<()>>) -> Result<(), PartError> {
    match set.join_next().await {
        Some(Ok(Ok(()))) | None => Ok(()),
        Some(Ok(Err(e))) => Err(PartError::Store(classify(e))),
        Some(Err(e)) => Err(PartError::Store(StorageError::Other(format!(
            "part upload task: {e}"
        )))),
    }
}
