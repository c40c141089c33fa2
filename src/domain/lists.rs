//! Value lists for `IN` conditions, bound one by one, and the padding
//! and row caps that keep the message writer's multi-row statements to a
//! few shapes.

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

/// The length a list of `n` is padded to: 1, 2, 3, 4, 6, 8, 12, 16, 24,
/// ... (each a power of two or three quarters of one), so that at most a
/// third of it is padding.
///
/// A statement with a list of values takes as many placeholders as the
/// list has values, and each count is a statement of its own to MariaDB,
/// parsed and prepared again unless the connection still holds it. Padded,
/// the lists of up to 512 values come in 18 lengths.
pub fn padded_len(n: usize) -> usize {
    if n <= 2 {
        return n;
    }
    let power = n.next_power_of_two();
    let three_quarters = power / 4 * 3;
    if n <= three_quarters {
        three_quarters
    } else {
        power
    }
}

/// The most rows one multi-row insert of the writer's takes. An insert
/// cannot be padded (a row twice is a duplicate key), so its shapes are
/// its lengths: capped here, a batch's insert is one to four statements of
/// at most 64 shapes, and the largest statements MariaDB keeps prepared
/// stay small.
pub const ROWS_PER_INSERT: usize = 64;

/// `items`, then its last item repeated up to [`padded_len`]: for `IN`
/// lists, where a value twice changes nothing, and for upserts whose
/// repeated row writes the same values again.
pub fn padded<T>(items: &[T]) -> impl Iterator<Item = &T> {
    let extra = padded_len(items.len()) - items.len();
    items
        .iter()
        .chain(items.last().into_iter().cycle().take(extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_pad_to_a_few_lengths_with_their_last_item() {
        let lengths: Vec<usize> = (0..=13).map(padded_len).collect();
        assert_eq!(lengths, [0, 1, 2, 3, 4, 6, 6, 8, 8, 12, 12, 12, 12, 16]);
        assert_eq!(padded_len(257), 384);
        assert_eq!(padded_len(512), 512);
        let distinct: std::collections::BTreeSet<usize> = (1..=512).map(padded_len).collect();
        assert_eq!(distinct.len(), 18);
        for n in 1..=512 {
            assert!(padded_len(n) >= n && padded_len(n) * 2 <= n * 3 + 1, "{n}");
        }
        assert_eq!(
            padded(&[1, 2, 3, 4, 5]).copied().collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 5]
        );
        assert_eq!(padded::<u8>(&[]).count(), 0);
    }
}
