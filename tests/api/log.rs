//! The log: reading after a position is safe while writers commit. Two
//! writers on two connections append concurrently while a reader follows
//! the log from a checkpoint; the reader must see every position exactly
//! once, in order, none skipped (an auto-increment would let a lower
//! position commit after a higher one had been read past).

use samvad::domain::{
    TenantId,
    log::{self, LogKind, NewEntry},
};
use sqlx::Connection;

use crate::helpers::{TestApp, wait_for_statement};

fn entry(tenant: TenantId) -> NewEntry {
    NewEntry {
        tenant_id: tenant,
        kind: LogKind::MessageCreated,
        conversation_id: None,
        subject_id: uuid::Uuid::now_v7(),
        seq: None,
        created_at: samvad::domain::now(),
    }
}

#[tokio::test]
async fn a_position_becomes_visible_only_after_every_lower_one_has_committed() {
    let app = TestApp::spawn().await;
    let tenant = TenantId::new();
    let mut first = app.pool.begin().await.unwrap();
    assert_eq!(log::append(&mut first, &[entry(tenant)]).await.unwrap(), 1);
    // The second writer waits for the first to end before it gets a position.
    let second = {
        let pool = app.pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            let at = log::append(&mut tx, &[entry(tenant), entry(tenant)])
                .await
                .unwrap();
            tx.commit().await.unwrap();
            at
        })
    };
    wait_for_a_writer_at_the_head(&app).await;
    assert!(
        !second.is_finished(),
        "positions are taken one writer at a time"
    );
    assert!(app.core.log_after(0, 10).await.unwrap().is_empty());

    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap(), 2);
    let positions: Vec<u64> = app
        .core
        .log_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(positions, vec![1, 2, 3]);

    // A rolled-back writer gives its positions back.
    let mut undone = app.pool.begin().await.unwrap();
    log::append(&mut undone, &[entry(tenant)]).await.unwrap();
    undone.rollback().await.unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    assert_eq!(log::append(&mut tx, &[entry(tenant)]).await.unwrap(), 4);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_reader_following_two_concurrent_writers_misses_nothing() {
    let app = TestApp::spawn().await;
    let tenant = TenantId::new();
    const PER_WRITER: usize = 150;
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let url = app.db_url();
            tokio::spawn(async move {
                let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
                for n in 0..PER_WRITER {
                    let mut tx = conn.begin().await.unwrap();
                    let batch: Vec<NewEntry> = (0..1 + n % 3).map(|_| entry(tenant)).collect();
                    log::append(&mut tx, &batch).await.unwrap();
                    // Hold the transaction open a little, as a writer with
                    // more statements would.
                    tokio::task::yield_now().await;
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    let expected: u64 = (0..PER_WRITER).map(|n| 1 + (n % 3) as u64).sum::<u64>() * 2;

    let mut reader = sqlx::MySqlConnection::connect(&app.db_url()).await.unwrap();
    let mut seen = Vec::new();
    let mut checkpoint = 0;
    while checkpoint < expected {
        let page = log::read_after(&mut reader, checkpoint, 7).await.unwrap();
        for e in &page {
            seen.push(e.position);
            checkpoint = e.position;
        }
        if page.is_empty() {
            tokio::task::yield_now().await;
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(seen, (1..=expected).collect::<Vec<_>>());
}

/// Waits until a writer is waiting for `log_head`.
async fn wait_for_a_writer_at_the_head(app: &TestApp) {
    wait_for_statement(
        &app.pool,
        "UPDATE log_head",
        "the second writer never waited",
    )
    .await;
}
