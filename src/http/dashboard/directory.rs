//! Dashboard pages: directory (see the module list in mod.rs).

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
