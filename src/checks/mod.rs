//! Verification checks that run on this machine with no network: document MRZ, image similarity, and
//! (with the sessions module) age, duplicates and risk. Pure functions where possible; must not write
//! to the database.

pub mod barcode;
pub mod document_facts;
pub mod engine;
pub mod grey;
pub mod imagehash;
pub mod mrz;
pub mod mrz_image;
pub mod pdf417_turn;
pub mod printed;
