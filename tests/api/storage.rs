//! `samvad::storage` against both stores: the local disk, and S3 as moto
//! serves it (`helpers::s3`). One test body runs on each.

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use samvad::storage::{Storage, StorageError};

use crate::helpers::s3::MotoServer;

/// A directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("samvad-storage-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads a whole fetch, checking its stream against its `range`.
async fn fetch(store: &Storage, key: &str, range: Option<std::ops::Range<u64>>) -> (u64, Vec<u8>) {
    let got = store.get(key, range).await.unwrap();
    let chunks: Vec<Bytes> = got.stream.try_collect().await.unwrap();
    let body = chunks.concat();
    assert_eq!(
        body.len() as u64,
        got.range.end - got.range.start,
        "{:?}",
        got.range
    );
    (got.size, body)
}

/// The shared body: multipart put, whole and ranged gets, delete, exists.
async fn round_trip(store: &Storage) {
    let tmp = TempDir::new();
    let tenant = uuid::Uuid::now_v7();
    let file = uuid::Uuid::now_v7();
    let key = format!("t/{tenant}/{file}/original");

    // ~6 MiB: more than one 5 MiB part, so the multipart path runs.
    let data: Vec<u8> = (0..6 * 1024 * 1024 + 123)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = tmp.0.join("upload");
    std::fs::write(&path, &data).unwrap();
    assert!(!store.exists(&key).await.unwrap());
    assert_eq!(
        store.put_file(&key, &path).await.unwrap(),
        data.len() as u64
    );
    assert!(store.exists(&key).await.unwrap());

    let (size, whole) = fetch(store, &key, None).await;
    assert_eq!(size, data.len() as u64);
    assert!(whole == data, "the stored bytes differ");

    let (_, part) = fetch(store, &key, Some(100..200)).await;
    assert_eq!(part, &data[100..200]);
    let n = data.len() as u64;
    let (size, tail) = fetch(store, &key, Some(n - 10..n)).await;
    assert_eq!((size, tail.as_slice()), (n, &data[data.len() - 10..]));
    // A range past the end is cut at the end.
    let (_, cut) = fetch(store, &key, Some(n - 5..n + 100)).await;
    assert_eq!(cut, &data[data.len() - 5..]);

    // Small files go up in one request; put_bytes likewise.
    let thumb = format!("t/{tenant}/{file}/thumb-small");
    store
        .put_bytes(&thumb, Bytes::from_static(b"tiny"))
        .await
        .unwrap();
    assert_eq!(fetch(store, &thumb, None).await, (4, b"tiny".to_vec()));
    // A range that starts past the end is refused, not an outage.
    let past = store.get(&thumb, Some(10..20)).await.map(|f| f.range);
    assert!(matches!(past, Err(StorageError::Other(_))), "{past:?}");
    let empty = tmp.0.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let empty_key = format!("t/{tenant}/{file}/empty");
    assert_eq!(store.put_file(&empty_key, &empty).await.unwrap(), 0);
    assert!(store.exists(&empty_key).await.unwrap());

    for k in [&key, &thumb, &empty_key] {
        store.delete(k).await.unwrap();
        assert!(!store.exists(k).await.unwrap());
    }
    assert!(matches!(
        store.get(&key, None).await,
        Err(StorageError::NotFound)
    ));
    // Deleting what is gone is fine.
    store.delete(&key).await.unwrap();

    for bad in [
        "", "/t/x", "t/../x", "t//x", "t/x/", "t/./x", "t/x y", "t/\u{e9}",
    ] {
        assert!(
            matches!(store.exists(bad).await, Err(StorageError::Other(_))),
            "{bad:?} was accepted"
        );
    }
    assert!(matches!(
        store.get(&thumb, Some(5..5)).await,
        Err(StorageError::Other(_))
    ));
    let missing = tmp.0.join("missing");
    assert!(matches!(
        store.put_file(&key, &missing).await,
        Err(StorageError::Other(_))
    ));
}

#[tokio::test]
async fn local_disk() {
    let tmp = TempDir::new();
    let dir = tmp.0.join("files");
    let store = Storage::local(&dir).unwrap();
    assert_eq!(store.describe(), "disk");
    round_trip(&store).await;
    // Deleting the last object leaves no empty directories behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[tokio::test]
async fn s3_on_moto() {
    let moto = MotoServer::start().await;
    moto.create_bucket("samvad-files").await;
    let store = Storage::s3(&moto.bucket_config("samvad-files")).unwrap();
    assert_eq!(store.describe(), "s3");
    round_trip(&store).await;
    // The multipart upload was completed, not left open.
    let uploads = reqwest::get(format!("{}/samvad-files?uploads", moto.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!uploads.contains("<Upload>"), "{uploads}");
    assert!(
        moto.output().contains("uploadId="),
        "the multipart path did not run"
    );
}

#[tokio::test]
async fn s3_errors() {
    let moto = MotoServer::start().await;
    // No such bucket: a 404 is NotFound, and the server is up.
    let store = Storage::s3(&moto.bucket_config("no-such-bucket")).unwrap();
    assert!(matches!(
        store.get("t/a/b/original", None).await,
        Err(StorageError::NotFound)
    ));
    let cfg = moto.bucket_config("samvad-files");
    drop(moto);
    // Nothing listening: Unavailable, soon.
    let store = Storage::s3(&cfg).unwrap();
    let started = std::time::Instant::now();
    let err = store
        .put_bytes("t/a/b/original", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// moto's open multipart uploads in `bucket`, as XML.
async fn open_uploads(moto: &MotoServer, bucket: &str) -> String {
    let url = format!("{}/{bucket}?uploads", moto.endpoint);
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// Polls `check` every 20 ms for up to 20 s.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn s3_cancelled_upload_is_aborted() {
    let moto = MotoServer::start().await;
    moto.create_bucket("samvad-files").await;
    let store = Storage::s3(&moto.bucket_config("samvad-files")).unwrap();
    // A FIFO as the source: two parts' worth and a byte, then it stalls
    // (open, no more data), so the upload is in flight when cancelled.
    let tmp = TempDir::new();
    let fifo = tmp.0.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = tokio::task::spawn_blocking({
        let fifo = fifo.clone();
        move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            std::io::Write::write_all(&mut w, &vec![7; 10 * 1024 * 1024 + 1]).unwrap();
            w
        }
    });
    let upload = tokio::spawn(async move { store.put_file("t/a/b/original", &fifo).await });
    eventually("the multipart upload to open", || async {
        open_uploads(&moto, "samvad-files")
            .await
            .contains("<Upload>")
    })
    .await;
    upload.abort();
    assert!(upload.await.unwrap_err().is_cancelled());
    eventually("the cancelled upload to be aborted", || async {
        !open_uploads(&moto, "samvad-files")
            .await
            .contains("<Upload>")
    })
    .await;
    drop(writer.await.unwrap());
}
