//! Webhooks: payload building, signing, delivery policy (retries, circuit breaker, egress) and one
//! delivery attempt over HTTP. Self-contained library pieces; the event log, the endpoints API and
//! the outbox wire them together. Must not touch the database, HTTP routes or commands.
//! (Except `outbox` and `worker`, the durable outbox and its loops, and `verifyhq`, which reads the
//! session views to map events for that dialect: see their headers.)

pub mod outbox;
pub mod payload;
pub mod policy;
pub mod sender;
pub mod signing;
pub mod verifyhq;
pub mod worker;
