//! Value lists for `IN` conditions, bound one by one.

use sqlx::{Encode, MySql, QueryBuilder, Type};

/// Appends `(?, ?, ...)`, one bind per value (there must be at least one).
pub fn push_list<T>(query: &mut QueryBuilder<'_, MySql>, values: impl IntoIterator<Item = T>)
where
    T: for<'q> Encode<'q, MySql> + Type<MySql> + Send + 'static,
{
    query.push("(");
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    query.push(")");
}

/// Appends `((?, ?), (?, ?), ...)` for row-constructor conditions such as
/// `(tenant_id, id) IN`: one range of a two-column key each (there must be
/// at least one pair).
pub fn push_pairs<A, B>(
    query: &mut QueryBuilder<'_, MySql>,
    pairs: impl IntoIterator<Item = (A, B)>,
) where
    A: for<'q> Encode<'q, MySql> + Type<MySql> + Send + 'static,
    B: for<'q> Encode<'q, MySql> + Type<MySql> + Send + 'static,
{
    query.push("(");
    let mut list = query.separated(", ");
    for (a, b) in pairs {
        list.push("(")
            .push_bind_unseparated(a)
            .push_unseparated(", ")
            .push_bind_unseparated(b)
            .push_unseparated(")");
    }
    query.push(")");
}
