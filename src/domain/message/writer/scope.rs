//! How the writer's reads pick a batch's rows, scoped by tenant, in one of
//! two forms chosen by the batch:
//! - one tenant: `FROM t WHERE t.tenant_id = ? AND (t.key) IN ((?), ...)`,
//!   one range per key on the table's index: MariaDB's cheapest form;
//! - several: `WITH v (t, k0) AS (SELECT ?, ? UNION ALL ...) ... FROM v
//!   JOIN t ON t.tenant_id = v.t AND t.key = v.k0`, one index lookup per
//!   row of `v` ([`with_rows`]).
//!
//! Either way the statement's shape depends only on the padded number of
//! keys, so the writer's connection keeps it prepared. (Lists of keys per
//! tenant, OR-ed, made each mix of tenants a statement of its own and a
//! hundred tenants a hundred branches to plan; the join costs MariaDB more
//! per row than a list of one tenant's keys: BENCHMARKS.md, "Batches that
//! mix tenants".)

use sqlx::{MySql, QueryBuilder};

use crate::domain::{
    ConversationId, MessageId, ParticipantId, TenantId,
    lists::{padded, with_rows},
};

/// A key's values after the tenant, bound in the order of its columns.
pub trait KeyValues: Ord {
    /// Binds the values, separated by `", "`.
    fn bind(&self, query: &mut QueryBuilder<'_, MySql>);
}

macro_rules! one_column {
    ($($id:ty),*) => {$(
        impl KeyValues for $id {
            fn bind(&self, query: &mut QueryBuilder<'_, MySql>) {
                query.push_bind(*self);
            }
        }
    )*};
}
one_column!(ConversationId, ParticipantId, MessageId);

/// A sender's client id.
impl KeyValues for (ParticipantId, String) {
    fn bind(&self, query: &mut QueryBuilder<'_, MySql>) {
        query.push_bind(self.0).push(", ").push_bind(self.1.clone());
    }
}

/// The `(tenant, key)` rows a read looks up, sorted, each once; `columns`
/// names the key's columns after `tenant_id`.
pub struct Rows<K> {
    rows: Vec<(TenantId, K)>,
    columns: &'static [&'static str],
}

impl<K: KeyValues> Rows<K> {
    /// The rows (there must be at least one).
    pub fn new(
        columns: &'static [&'static str],
        rows: impl IntoIterator<Item = (TenantId, K)>,
    ) -> Self {
        let mut rows: Vec<_> = rows.into_iter().collect();
        rows.sort();
        rows.dedup();
        assert!(!rows.is_empty(), "a read of no rows");
        Self { rows, columns }
    }

    /// The rows, sorted.
    pub fn rows(&self) -> &[(TenantId, K)] {
        &self.rows
    }

    fn one_tenant(&self) -> bool {
        self.rows[0].0 == self.rows[self.rows.len() - 1].0
    }

    /// The statement's start: the table `v` of the rows when they span
    /// tenants, else nothing.
    pub fn start(&self) -> QueryBuilder<'_, MySql> {
        if self.one_tenant() {
            return QueryBuilder::new("");
        }
        let names: Vec<String> = (0..self.columns.len()).map(|i| format!("k{i}")).collect();
        with_rows(
            &format!("t, {}", names.join(", ")),
            &self.rows,
            |query, (tenant, key)| {
                query.push_bind(*tenant).push(", ");
                key.bind(query);
            },
        )
    }

    /// ` FROM table` (with its alias and any index hint) and the condition
    /// that picks the rows, to which more can be added with ` AND ...`. The
    /// rows come in key order: the list's ranges are read in order, and a
    /// join reads `v` (sorted) first.
    pub fn push_from(&self, query: &mut QueryBuilder<'_, MySql>, table: &str, alias: &str) {
        let columns = self.columns.iter().map(|c| format!("{alias}.{c}"));
        if self.one_tenant() {
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
        } else {
            query.push(format!(" FROM v JOIN {table} ON {alias}.tenant_id = v.t"));
            for (i, column) in columns.enumerate() {
                query.push(format!(" AND {column} = v.k{i}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(rows: Rows<ConversationId>) -> String {
        let mut query = rows.start();
        query.push("SELECT STRAIGHT_JOIN c.id");
        rows.push_from(&mut query, "conversations c", "c");
        query.sql().to_owned()
    }

    #[test]
    fn one_tenant_is_a_list_and_several_are_a_join_of_one_shape_per_length() {
        let (a, b, c) = (TenantId::new(), TenantId::new(), TenantId::new());
        let ids: Vec<ConversationId> = (0..3).map(|_| ConversationId::new()).collect();
        let rows =
            |tenants: [TenantId; 3]| Rows::new(&["id"], tenants.into_iter().zip(ids.clone()));
        assert_eq!(
            sql(rows([a, a, a])),
            "SELECT STRAIGHT_JOIN c.id FROM conversations c WHERE c.tenant_id = ? AND (c.id) IN ((?), (?), (?))"
        );
        let mixed = sql(rows([a, b, c]));
        assert_eq!(
            mixed,
            "WITH v (t, k0) AS (SELECT ?, ? UNION ALL SELECT ?, ? UNION ALL SELECT ?, ?) \
             SELECT STRAIGHT_JOIN c.id FROM v JOIN conversations c ON c.tenant_id = v.t AND c.id = v.k0"
        );
        // Whichever tenants three rows mix, the statement is the same.
        assert_eq!(mixed, sql(rows([a, a, b])));
    }

    #[test]
    fn rows_are_sorted_and_each_looked_up_once() {
        let tenant = TenantId::new();
        let (x, y) = (ConversationId::new(), ConversationId::new());
        let rows = Rows::new(&["id"], [(tenant, y), (tenant, x), (tenant, y)]);
        let mut expected = vec![(tenant, x), (tenant, y)];
        expected.sort();
        assert_eq!(rows.rows(), expected);
    }
}
