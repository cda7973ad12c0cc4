//! The black-box API suite: one test binary, the real app per test.

#![allow(dead_code)]

mod api_keys;
mod conventions;
mod face;
mod helpers;
mod identities;
mod image_matches;
mod pii;
mod relationships;
mod replay;
mod sessions;
mod types;
