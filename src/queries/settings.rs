//! Settings reads: the retention windows of an environment, defaults filled in. Must not write.

use crate::domain::settings::Retention;
use crate::error::AppResult;
use crate::store::{shared_reads, ReadOnly};

pub fn retention(conn: &ReadOnly, environment: &str) -> AppResult<Retention> {
    shared_reads::retention(conn, environment)
}
