//! The reviewer dashboard served by the binary at `/dashboard`: server-rendered HTML pages with a little
//! same-origin JavaScript, no external assets. `auth` signs org users in and out; `layout` frames every
//! page; `review` is the queue and the case page; `directory` is identity search, the webhook delivery
//! log and the audit log; `admin` is users, API keys, retention and review settings. Pages call the
//! same commands and queries as the API (one write path) and must not touch SQL, keys or crypto.

mod admin;
pub mod auth;
mod directory;
mod layout;
mod review;

use actix_web::web;

/// The dashboard's session refresh, under `/api/v1` (see `auth::configure_refresh`).
pub fn configure_refresh(cfg: &mut web::ServiceConfig) {
    cfg.configure(auth::configure_refresh);
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(auth::configure)
        .configure(layout::configure)
        .configure(review::configure)
        .configure(directory::configure)
        .configure(admin::configure);
}
