//! `Exec`: write statements and single-row reads run through the connection's prepared-statement cache, for the writer's
//! commands and projections. Must not hold state of its own or open transactions.
//!
//! rusqlite's `Connection::execute` parses its SQL every call; the writer runs the same few hundred
//! statements for every command, and parsing them again was a quarter of its time under load.

use rusqlite::{Connection, Params, Row};

pub trait Exec {
    /// `Connection::execute`, with the statement prepared once per connection and kept.
    fn exec<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;

    /// `Connection::query_row`, likewise.
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>;
}

impl Exec for Connection {
    fn exec<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

#[cfg(test)]
mod tests {
    use super::Exec;

    #[test]
    fn exec_runs_the_statement_each_time_and_reports_changed_rows() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.exec("CREATE TABLE t (n INTEGER)", []).unwrap();
        for n in 0..3 {
            assert_eq!(conn.exec("INSERT INTO t (n) VALUES (?1)", [n]).unwrap(), 1);
        }
        assert_eq!(conn.exec("UPDATE t SET n = n + 1 WHERE n >= ?1", [1]).unwrap(), 2);
        let total: i64 = conn.row("SELECT sum(n) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(total, 5);
    }
}
