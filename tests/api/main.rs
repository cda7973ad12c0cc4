//! The black-box API suite: one test binary, the real app per test.

#![allow(dead_code)]

mod api_keys;
mod barcode_session;
mod busy_reads;
mod cases;
mod conventions;
mod cpu_pool;
mod dashboard_admin;
mod dashboard_review;
mod documents;
mod events;
mod face;
mod findings;
mod golden;
mod helpers;
mod identities;
mod identity_birth_dates;
mod image_matches;
mod list_imports;
mod list_policy;
mod lists;
mod mcp;
mod monitoring_history;
mod mrz_document;
mod one_time_links;
mod passport_page;
mod pii;
mod printed_fields;
mod processing;
mod relationships;
mod replay;
mod screening;
mod session_trail;
mod session_wait;
mod sessions;
mod settings;
mod types;
mod users;
mod verifyhq;
mod webhooks;
mod workflow_drafts;
mod workflows;
