//! The end-of-run check in MySQL: every acked message id is stored, and
//! every conversation of the tenant holds seq 1..last_seq without gaps.

use serde_json::{Value, json};
use sqlx::{Connection, MySqlConnection, Row};

pub async fn check(
    database_url: &str,
    tenant: [u8; 16],
    acked: &[[u8; 16]],
) -> anyhow::Result<Value> {
    let mut db = MySqlConnection::connect(database_url).await?;
    let mut found: i64 = 0;
    for chunk in acked.chunks(1000) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!("SELECT COUNT(*) FROM messages WHERE tenant_id = ? AND id IN ({marks})");
        let mut query = sqlx::query(&sql).bind(&tenant[..]);
        for id in chunk {
            query = query.bind(&id[..]);
        }
        found += query.fetch_one(&mut db).await?.try_get::<i64, _>(0)?;
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS conversations,
                CAST(COALESCE(SUM(n <> mx OR mx <> last_seq), 0) AS SIGNED) AS gapped,
                CAST(COALESCE(SUM(n), 0) AS SIGNED) AS messages
         FROM (SELECT c.id, c.last_seq, COUNT(m.seq) AS n, COALESCE(MAX(m.seq), 0) AS mx
               FROM conversations c
               LEFT JOIN messages m ON m.tenant_id = c.tenant_id AND m.conversation_id = c.id
               WHERE c.tenant_id = ?
               GROUP BY c.id, c.last_seq) per_conversation",
    )
    .bind(&tenant[..])
    .fetch_one(&mut db)
    .await?;
    let conversations: i64 = row.try_get("conversations")?;
    let gapped: i64 = row.try_get("gapped")?;
    let messages: i64 = row.try_get("messages")?;
    Ok(json!({
        "acked": acked.len(),
        "ackedFoundInMysql": found,
        "missingFromMysql": acked.len() as i64 - found,
        "conversations": conversations,
        "conversationsWithGaps": gapped,
        "messagesInMysql": messages,
    }))
}

/// Statements running in MySQL for clients of other databases than ours
/// (not counting ones stuck waiting for a lock: they use nothing).
pub async fn other_clients(database_url: &str) -> anyhow::Result<i64> {
    let mut db = MySqlConnection::connect(database_url).await?;
    let busy: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST
         WHERE COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump')
           AND ID <> CONNECTION_ID()
           AND (DB IS NULL OR DB <> DATABASE())
           AND USER <> 'system user'
           AND COALESCE(STATE, '') NOT LIKE 'Waiting for%'",
    )
    .fetch_one(&mut db)
    .await?;
    Ok(busy)
}
