//! Admin: the environment's review settings (dual review; the fixed claim timeout) and retention
//! windows, each form read-modify-written through the same command as `PATCH /api/v1/settings/retention`.

use super::{admit, answer};
use crate::commands::retention::update_retention;
use crate::domain::settings::Retention;
use crate::error::AppError;
use crate::http::dashboard::auth::{Reviewer, SignedIn};
use crate::http::dashboard::directory::Fields;
use crate::http::dashboard::layout::PageResult;
use crate::http::AppState;
use crate::queries::settings as settings_q;
use actix_web::{web, HttpRequest};

fn days(v: Option<i64>) -> String {
    v.map(|d| d.to_string()).unwrap_or_default()
}

pub(super) fn review_form(r: &Retention, csrf: &str) -> String {
    format!(
        "<form class=\"card\" method=\"post\" action=\"/dashboard/admin/review\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><h3>Review</h3>\
         <label class=\"check\"><input type=\"checkbox\" id=\"dual-review\" name=\"dual_review\" value=\"on\"{dual}> Dual review</label>\
         <p class=\"muted small\">A first decision becomes a recommendation; a different reviewer makes the final one.</p>\
         <dl class=\"fields\"><dt>Claim timeout</dt><dd>{claim} minutes without activity (fixed)</dd></dl>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Save review settings</button></div></form>",
        dual = if r.dual_review { " checked" } else { "" },
        claim = crate::domain::case::CLAIM_TIMEOUT_SECONDS / 60,
    )
}

pub(super) fn retention_form(r: &Retention, csrf: &str) -> String {
    format!(
        "<form class=\"card\" method=\"post\" action=\"/dashboard/admin/retention\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><h3>Data retention</h3><div class=\"form-grid\">\
         <div><label for=\"r-sensitive\">Stop serving PII after (days)</label>\
         <input id=\"r-sensitive\" name=\"sensitive_data_retention_days\" type=\"number\" min=\"1\" max=\"36500\" value=\"{sensitive}\" placeholder=\"never\"></div>\
         <div><label for=\"r-data\">Delete data after (days)</label>\
         <input id=\"r-data\" name=\"data_retention_days\" type=\"number\" min=\"1\" max=\"36500\" value=\"{data}\" placeholder=\"never\"></div>\
         <div><label for=\"r-url\">Document link lifetime (seconds)</label>\
         <input id=\"r-url\" name=\"image_url_expiry_seconds\" type=\"number\" min=\"30\" max=\"604800\" value=\"{url}\" required></div></div>\
         <label class=\"check\"><input type=\"checkbox\" name=\"auto_redact_on_retention_expiry\" value=\"on\"{redact}> \
         Redact identities when their data retention expires</label>\
         <p class=\"muted small\">Blank day fields mean never. Days count from a session's decision.</p>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Save retention</button></div></form>",
        sensitive = days(r.sensitive_data_retention_days),
        data = days(r.data_retention_days),
        url = r.image_url_expiry_seconds,
        redact = if r.auto_redact_on_retention_expiry { " checked" } else { "" },
    )
}

/// Days from a form field: blank is never.
fn days_field(form: &Fields, field: &str) -> Result<Option<i64>, AppError> {
    form.get(field)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| AppError::validation(field, "must be a whole number of days, or blank for never"))
        })
        .transpose()
}

/// Reads the environment's settings, changes them with `change`, and records them (one event).
async fn update_settings(
    req: &HttpRequest,
    state: &AppState,
    reviewer: &Reviewer,
    change: impl FnOnce(&mut Retention) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let env = reviewer.environment.to_string();
    let mut settings = state.read(move |c| settings_q::retention(c, &env)).await?;
    change(&mut settings)?;
    update_retention(&state.writer, reviewer.meta(req, state.now()), settings).await
}

#[tracing::instrument(skip_all)]
pub(super) async fn save_retention(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = update_settings(&req, &state, &reviewer, |r| {
        r.sensitive_data_retention_days = days_field(&form, "sensitive_data_retention_days")?;
        r.data_retention_days = days_field(&form, "data_retention_days")?;
        r.image_url_expiry_seconds = form
            .get("image_url_expiry_seconds")
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| AppError::validation("image_url_expiry_seconds", "must be a number of seconds"))?;
        r.auto_redact_on_retention_expiry = form.checked("auto_redact_on_retention_expiry");
        Ok(())
    })
    .await;
    answer(&state, &reviewer, result, "retention_saved").await
}

#[tracing::instrument(skip_all)]
pub(super) async fn save_review(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let dual_review = form.checked("dual_review");
    let result = update_settings(&req, &state, &reviewer, |r| {
        r.dual_review = dual_review;
        Ok(())
    })
    .await;
    answer(&state, &reviewer, result, "review_saved").await
}
