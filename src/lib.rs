//! idv: a self-hosted identity-verification server. The module list only; see each module's header.

pub mod auth;
pub mod blocking;
pub mod checks;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod face;
pub mod http;
pub mod idempotency;
pub mod ip_intelligence;
pub mod metrics;
pub mod processing;
pub mod projections;
pub mod qr;
pub mod queries;
pub mod ratelimit;
pub mod screening;
pub mod screening_service;
pub mod startup;
pub mod state;
pub mod store;
pub mod sweeper;
pub mod webhooks;
