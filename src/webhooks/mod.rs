//! Webhooks: payload signing and (with the outbox) durable delivery.

pub mod signing;
