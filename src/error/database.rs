//! Database errors: which mean the database is out of reach (503, to be
//! sent again) and which are a known refusal (a deadlock's victim, a
//! duplicate key); the rest are internal (500).

use super::AppError;

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if is_unreachable(&err) {
            tracing::error!(error = %err, "database unreachable");
            return Self::unreachable();
        }
        Self::Internal(anyhow::Error::new(err).context("database error"))
    }
}

/// Whether the database is out of reach for this statement: its
/// connection lost ([`is_connection_lost`]), none free in time, or the pool
/// closed (the server is shutting down). A 503: the request may be sent
/// again, here or on another node.
pub fn is_unreachable(err: &sqlx::Error) -> bool {
    is_connection_lost(err) || matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
}

/// Whether the connection a statement ran on is gone or was cut off: a
/// broken socket, or the server's own word that it killed the connection
/// or the statement (SQLSTATE 70100: `KILL`) or is shutting down (class
/// 08). Nothing the statement did stays; the database may well be up.
pub fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code == "70100" || code.starts_with("08")),
        _ => false,
    }
}

/// Whether MySQL chose this transaction as a deadlock's victim (1213): it
/// was rolled back and may simply be run again.
pub fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("40001"))
}

/// True when `err` is MySQL's duplicate-key error (1062) on the named key.
/// MySQL reports the key name, not a constraint name, in the message.
pub fn is_unique_violation(err: &sqlx::Error, key: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23000") && db.message().contains(key)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use poem::{error::ResponseError, http::StatusCode};

    use super::*;

    #[test]
    fn a_database_out_of_reach_is_a_503_and_any_other_database_error_a_500() {
        for err in [
            sqlx::Error::PoolClosed,
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
        ] {
            let answer = AppError::from(err);
            assert_eq!(
                answer.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{answer:?}"
            );
            assert_eq!(answer.code(), "unavailable");
        }
        let other = AppError::from(sqlx::Error::RowNotFound);
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
