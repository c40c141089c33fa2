//! How the writer's reads pick a batch's rows, scoped by tenant, in one of
//! two forms chosen by the batch:
//! - one tenant: `FROM t WHERE t.tenant_id = ? AND (t.key) IN ((?), ...)`,
//!   one range per key on the table's index: MariaDB's cheapest form, its
//!   list padded to a few lengths ([`padded`]);
//! - several: `FROM JSON_TABLE(?, '$[*]' COLUMNS (t ..., k0 ...)) v JOIN t
//!   ON t.tenant_id = UNHEX(v.t) AND t.key = UNHEX(v.k0)`, the rows bound
//!   as one JSON document and each looked up on the table's index.
//!
//! Either way the writer's connection keeps the statement prepared: the
//! list's shape depends only on its padded length, the join's on nothing.
//! (Lists of keys per tenant, OR-ed, made each mix of tenants a statement
//! of its own and a hundred tenants a hundred branches to plan; a table of
//! `SELECT ?, ? UNION ALL ...` rows costs MariaDB 0.22 ms to build even for
//! 8 rows, against 0.04 for the document; one tenant's list costs least:
//! BENCHMARKS.md, "Batches that mix tenants".)

use serde_json::Value;
use sqlx::{MySql, QueryBuilder};

use crate::domain::{ConversationId, MessageId, ParticipantId, TenantId, lists::padded};

/// How a key's value is carried in the rows' document and compared.
#[derive(Clone, Copy)]
pub enum Kind {
    /// An id (`BINARY(16)`): hex in the document, `UNHEX`ed in the join.
    Id,
    /// A client id, as `messages.client_msg_id` (`VARCHAR(64)`, compared
    /// in the table's collation).
    ClientId,
}

/// A key's values after the tenant, in the order of its columns.
pub trait KeyValues: Ord {
    const KINDS: &'static [Kind];
    /// Binds the values, separated by `", "`.
    fn bind(&self, query: &mut QueryBuilder<'_, MySql>);
    /// Appends the values to the key's row of the document.
    fn json(&self, row: &mut Vec<Value>);
}

macro_rules! id_key {
    ($($id:ty),*) => {$(
        impl KeyValues for $id {
            const KINDS: &'static [Kind] = &[Kind::Id];
            fn bind(&self, query: &mut QueryBuilder<'_, MySql>) {
                query.push_bind(*self);
            }
            fn json(&self, row: &mut Vec<Value>) {
                row.push(Value::String(self.0.simple().to_string()));
            }
        }
    )*};
}
id_key!(ConversationId, ParticipantId, MessageId);

/// A sender's client id.
impl KeyValues for (ParticipantId, String) {
    const KINDS: &'static [Kind] = &[Kind::Id, Kind::ClientId];
    fn bind(&self, query: &mut QueryBuilder<'_, MySql>) {
        query.push_bind(self.0).push(", ").push_bind(self.1.clone());
    }
    fn json(&self, row: &mut Vec<Value>) {
        self.0.json(row);
        row.push(Value::String(self.1.clone()));
    }
}

/// Two people, in order (a block's blocker and blocked).
impl KeyValues for (ParticipantId, ParticipantId) {
    const KINDS: &'static [Kind] = &[Kind::Id, Kind::Id];
    fn bind(&self, query: &mut QueryBuilder<'_, MySql>) {
        query.push_bind(self.0).push(", ").push_bind(self.1);
    }
    fn json(&self, row: &mut Vec<Value>) {
        self.0.json(row);
        self.1.json(row);
    }
}

/// The `(tenant, key)` rows a read looks up, sorted, each once.
pub struct Rows<K> {
    rows: Vec<(TenantId, K)>,
    /// The rows as JSON, when they span tenants (made once, bound by each
    /// join on them).
    document: Option<String>,
}

impl<K: KeyValues> Rows<K> {
    /// The rows (there must be at least one).
    pub fn new(rows: impl IntoIterator<Item = (TenantId, K)>) -> Self {
        let mut rows: Vec<_> = rows.into_iter().collect();
        rows.sort();
        rows.dedup();
        assert!(!rows.is_empty(), "a read of no rows");
        let one_tenant = rows[0].0 == rows[rows.len() - 1].0;
        let document = (!one_tenant).then(|| document(&rows));
        Self { rows, document }
    }

    /// ` FROM table` (with its alias and any index hint) and the condition
    /// that picks the rows by `tenant_id` and `columns` (the key's, in the
    /// order of its values), to which more can be added with ` AND ...`.
    /// The rows come in key order: the list's ranges are read in order, and
    /// a join reads the document (sorted) first.
    pub fn push_from(
        &self,
        query: &mut QueryBuilder<'_, MySql>,
        table: &str,
        alias: &str,
        columns: &[&str],
    ) {
        assert_eq!(columns.len(), K::KINDS.len(), "a column for each value");
        let columns = columns.iter().map(|c| format!("{alias}.{c}"));
        let Some(document) = &self.document else {
            let columns: Vec<String> = columns.collect();
            query
                .push(format!(" FROM {table} WHERE {alias}.tenant_id = "))
                .push_bind(self.rows[0].0)
                .push(format!(" AND ({}) IN (", columns.join(", ")));
            for (i, (_, key)) in padded(&self.rows).enumerate() {
                query.push(if i == 0 { "(" } else { ", (" });
                key.bind(query);
                query.push(")");
            }
            query.push(")");
            return;
        };
        let mut table_columns = vec!["t CHAR(32) PATH '$[0]'".to_owned()];
        let mut on = vec![format!("{alias}.tenant_id = UNHEX(v.t)")];
        for (i, (column, kind)) in columns.zip(K::KINDS).enumerate() {
            let path = format!("PATH '$[{}]'", i + 1);
            match kind {
                Kind::Id => {
                    table_columns.push(format!("k{i} CHAR(32) {path}"));
                    on.push(format!("{column} = UNHEX(v.k{i})"));
                }
                Kind::ClientId => {
                    table_columns.push(format!(
                        "k{i} VARCHAR(64) COLLATE utf8mb4_unicode_ci {path}"
                    ));
                    on.push(format!("{column} = v.k{i}"));
                }
            }
        }
        query
            .push(" FROM JSON_TABLE(")
            .push_bind(document.clone())
            .push(format!(
                ", '$[*]' COLUMNS ({})) v JOIN {table} ON {}",
                table_columns.join(", "),
                on.join(" AND ")
            ));
    }
}

/// The rows as a JSON array of arrays: `[[tenant, key...], ...]`, ids in
/// hex.
fn document<K: KeyValues>(rows: &[(TenantId, K)]) -> String {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(tenant, key)| {
            let mut row = Vec::with_capacity(1 + K::KINDS.len());
            row.push(Value::String(tenant.0.simple().to_string()));
            key.json(&mut row);
            Value::Array(row)
        })
        .collect();
    Value::Array(rows).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql<K: KeyValues>(rows: Rows<K>, table: &str, columns: &[&str]) -> String {
        let mut query = QueryBuilder::new("SELECT STRAIGHT_JOIN 1");
        rows.push_from(&mut query, table, "c", columns);
        query.sql().to_owned()
    }

    #[test]
    fn one_tenant_is_a_list_and_several_are_one_join_whatever_their_number() {
        let (a, b, c) = (TenantId::new(), TenantId::new(), TenantId::new());
        let ids: Vec<ConversationId> = (0..3).map(|_| ConversationId::new()).collect();
        let rows = |tenants: &[TenantId]| Rows::new(tenants.iter().copied().zip(ids.clone()));
        assert_eq!(
            sql(rows(&[a, a, a]), "conversations c", &["id"]),
            "SELECT STRAIGHT_JOIN 1 FROM conversations c WHERE c.tenant_id = ? AND (c.id) IN ((?), (?), (?))"
        );
        let mixed = sql(rows(&[a, b, c]), "conversations c", &["id"]);
        assert_eq!(
            mixed,
            "SELECT STRAIGHT_JOIN 1 FROM JSON_TABLE(?, '$[*]' COLUMNS (t CHAR(32) PATH '$[0]', \
             k0 CHAR(32) PATH '$[1]')) v JOIN conversations c ON c.tenant_id = UNHEX(v.t) AND c.id = UNHEX(v.k0)"
        );
        // Whichever tenants the rows mix, and however many, one statement.
        assert_eq!(mixed, sql(rows(&[a, b]), "conversations c", &["id"]));
    }

    #[test]
    fn a_client_id_is_compared_as_text_in_the_messages_collation() {
        let (a, b) = (TenantId::new(), TenantId::new());
        let sender = ParticipantId::new();
        let rows = Rows::new([(a, (sender, "x".to_owned())), (b, (sender, "y".to_owned()))]);
        let columns = ["sender_id", "client_msg_id"];
        assert!(sql(rows, "messages c", &columns).ends_with(
            "k0 CHAR(32) PATH '$[1]', k1 VARCHAR(64) COLLATE utf8mb4_unicode_ci PATH '$[2]')) v \
             JOIN messages c ON c.tenant_id = UNHEX(v.t) AND c.sender_id = UNHEX(v.k0) AND c.client_msg_id = v.k1"
        ));
    }

    #[test]
    fn a_pair_of_people_is_two_ids_looked_up_together() {
        let (a, b) = (TenantId::new(), TenantId::new());
        let (x, y) = (ParticipantId::new(), ParticipantId::new());
        let columns = ["blocker_id", "blocked_id"];
        assert_eq!(
            sql(Rows::new([(a, (x, y)), (a, (y, x))]), "blocks c", &columns),
            "SELECT STRAIGHT_JOIN 1 FROM blocks c WHERE c.tenant_id = ? AND (c.blocker_id, c.blocked_id) IN ((?, ?), (?, ?))"
        );
        assert!(
            sql(Rows::new([(a, (x, y)), (b, (y, x))]), "blocks c", &columns).ends_with(
                "k0 CHAR(32) PATH '$[1]', k1 CHAR(32) PATH '$[2]')) v JOIN blocks c \
                 ON c.tenant_id = UNHEX(v.t) AND c.blocker_id = UNHEX(v.k0) AND c.blocked_id = UNHEX(v.k1)"
            )
        );
    }

    #[test]
    fn the_document_holds_the_rows_sorted_each_once_in_hex() {
        let (a, b) = (TenantId::new(), TenantId::new());
        let (x, y) = (ConversationId::new(), ConversationId::new());
        let rows = Rows::new([(b, y), (a, x), (b, y)]);
        let hex = |id: uuid::Uuid| id.simple().to_string();
        let mut expected = vec![(a, x), (b, y)];
        expected.sort();
        assert_eq!(rows.rows, expected);
        let document: Value = serde_json::from_str(rows.document.as_ref().unwrap()).unwrap();
        assert_eq!(
            document,
            serde_json::json!(
                expected
                    .iter()
                    .map(|(t, c)| [hex(t.0), hex(c.0)])
                    .collect::<Vec<_>>()
            )
        );
    }
}
