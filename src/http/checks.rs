//! /checks: standalone checks (spec §1.4): list, create, create several (`/checks/full`), get, hits, dismiss,
//! re-run, redact, tags, continuous monitoring (enable, disable, history, spec §1.9); and the checks of a
//! session or an identity. Bodies, queries and paths are typed
//! (the subject's data through the shared value types, so the limits match an identity's); the rules that
//! span fields (a reference to the person, the fields a check type needs) are checked here, every error at
//! once. Then one call.

use super::body::{ApiBody, ApiPath, ApiQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::checks::{self as cmd, CreateCheck, TagChange};
use crate::domain::check::{self as dom, CheckStatus, CheckSubject, CheckType};
use crate::domain::ids::{CheckBatchId, CheckHitId, CheckId, IdentityId, IdentityRef, SessionId};
use crate::domain::values::{
    self, AddressLine, Email, ExternalRef, IpAddress, PartialBirthDate, PersonName, Phone, PlaceName, ShortText,
    SubjectCountry, Tag,
};
use crate::error::{AppError, FieldError};
use crate::queries::checks::{self as q, CheckView, HitView, ListFilter, MonitoringPassView};
use crate::queries::{OffsetPage, Page};
use crate::screening::DEFAULT_THRESHOLD;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/checks", "List checks", web::get().to(list));
    t.add("POST", "/checks", "Create a check", web::post().to(create));
    // Static paths before `/checks/{check_id}`.
    t.add("POST", "/checks/full", "Create multiple checks at once", web::post().to(create_full));
    t.add("GET", "/checks/{check_id}", "Get check detail with hits", web::get().to(get));
    t.add("GET", "/checks/{check_id}/report.pdf", "Download the check's PDF report", web::get().to(report));
    t.add("GET", "/checks/{check_id}/hits", "List check hits", web::get().to(hits));
    t.add("POST", "/checks/{check_id}/dismiss", "Dismiss AML hits", web::post().to(dismiss));
    t.add("POST", "/checks/{check_id}/rerun", "Re-run check", web::post().to(rerun));
    t.add("POST", "/checks/{check_id}/redact", "GDPR redact check PII", web::post().to(redact));
    t.add("GET", "/checks/{check_id}/monitoring-history", "Monitoring history", web::get().to(monitoring_history));
    t.add(
        "POST",
        "/checks/{check_id}/monitoring/enable",
        "Enable continuous monitoring",
        web::post().to(enable_monitoring),
    );
    t.add(
        "POST",
        "/checks/{check_id}/monitoring/disable",
        "Disable continuous monitoring",
        web::post().to(disable_monitoring),
    );
    t.add("POST", "/checks/{check_id}/tags", "Add tags", web::post().to(add_tags));
    t.add("PUT", "/checks/{check_id}/tags", "Set tags (replace all)", web::put().to(set_tags));
    t.add("DELETE", "/checks/{check_id}/tags/{tag}", "Remove a tag", web::delete().to(remove_tag));
    t.add("GET", "/sessions/{session_id}/checks", "List checks for session", web::get().to(session_checks));
    t.add("GET", "/identities/{identity_id}/checks", "List checks for identity", web::get().to(identity_checks));
}

const READ: &str = "checks:read";
const WRITE: &str = "checks:write";

/// Declares a create body: its own fields, then the fields every create shares (the person reference, the
/// screened subject, threshold, tags), in one place.
macro_rules! check_body {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($extra)*
            /// Your reference for the person screened (optional: a check without `external_ref` or
            /// `identity_id` stands alone). An identity with this external_ref is linked to the check.
            pub external_ref: Option<ExternalRef>,
            /// The identity screened (`idn_*` id or its external_ref); it must exist and hold data.
            pub identity_id: Option<IdentityRef>,
            /// A session of this environment to link the check to.
            pub session_id: Option<SessionId>,
            /// Given name; required for AML types.
            pub name_first: Option<PersonName>,
            /// Family name; required for AML types.
            pub name_last: Option<PersonName>,
            /// Birth date as far as known: YYYY, YYYY-MM or YYYY-MM-DD (matched at that precision).
            pub birthdate: Option<PartialBirthDate>,
            /// ISO alpha-2, or a country's name or nationality (`Russia`, `Iranian`); answered as the code.
            pub country_code: Option<SubjectCountry>,
            /// Required for `email_risk*`.
            pub email: Option<Email>,
            /// Required for `phone_risk*`.
            pub phone: Option<Phone>,
            /// Required for `ip_risk`.
            pub ip_address: Option<IpAddress>,
            /// Required for `address_validation`.
            pub address_line1: Option<AddressLine>,
            pub address_line2: Option<AddressLine>,
            pub city: Option<PlaceName>,
            pub state: Option<PlaceName>,
            pub zip_code: Option<ShortText>,
            /// Name-match threshold, 0 to 1 (default 0.6).
            #[schema(minimum = 0.0, maximum = 1.0, example = 0.6)]
            pub threshold: Option<f64>,
            #[schema(max_items = 50)]
            pub tags: Option<Vec<Tag>>,
            /// Continuous monitoring (spec §1.9): a live `sanction` check is screened again against every
            /// new watchlist version's changes, each pass in its monitoring history. AML types only.
            pub monitoring_enabled: Option<bool>,
        }

        impl $name {
            /// The shared fields, validated across fields against `types`; every error at once.
            fn input(&self, types: &[CheckType], mut errors: Vec<FieldError>) -> Result<CreateCheck, AppError> {
                let subject = CheckSubject {
                    name_first: self.name_first.clone(),
                    name_last: self.name_last.clone(),
                    birthdate: self.birthdate.clone(),
                    country_code: self.country_code.clone(),
                    email: self.email.clone(),
                    phone: self.phone.clone(),
                    ip_address: self.ip_address.clone(),
                    address_line1: self.address_line1.clone(),
                    address_line2: self.address_line2.clone(),
                    city: self.city.clone(),
                    state: self.state.clone(),
                    zip_code: self.zip_code.clone(),
                };
                let given = subject.fields();
                for t in types {
                    for required in dom::required_fields(t.as_str()) {
                        if !given.contains_key(*required) && !errors.iter().any(|e| e.field == *required) {
                            errors.push(FieldError::new(*required, format!("is required for {} checks", t.as_str())));
                        }
                    }
                }
                let threshold = self.threshold.unwrap_or(DEFAULT_THRESHOLD);
                if !(0.0..=1.0).contains(&threshold) {
                    errors.push(FieldError::new("threshold", "must be a number from 0 to 1"));
                }
                let monitoring_enabled = self.monitoring_enabled.unwrap_or(false);
                // One check of a non-AML type cannot be monitored (its documented branch says so); a batch
                // monitors its AML types and leaves the others be.
                if Self::SINGLE && monitoring_enabled && !types.iter().any(|t| dom::is_aml(t.as_str())) {
                    errors.push(FieldError::new("monitoring_enabled", "only AML checks can be monitored"));
                }
                let tags = values::dedup_tags("tags", self.tags.clone().unwrap_or_default());
                if let Err(e) = &tags {
                    errors.push(e.clone());
                }
                if !errors.is_empty() {
                    return Err(AppError::fields(errors));
                }
                Ok(CreateCheck {
                    check_type: types[0],
                    external_ref: self.external_ref.clone(),
                    identity: self.identity_id.clone(),
                    session_id: self.session_id.clone(),
                    subject,
                    threshold,
                    tags: tags.unwrap_or_default(),
                    monitoring_enabled,
                })
            }
        }
    };
}

check_body!(
    /// `POST /checks`: one check. AML types (`sanction`, `pep`, `adverse_media`, `warning`) need `name_first`
    /// and `name_last`; `email_risk*` needs `email`, `phone_risk*` `phone`, `ip_risk` `ip_address`,
    /// `address_validation` `address_line1`.
    CreateCheckBody {
        pub check_type: CheckType,
    }
);

check_body!(
    /// `POST /checks/full`: one check per type, sharing a `batch_id` (same fields as a single check; the
    /// subject needs the fields of every type listed).
    CreateChecksBody {
        /// 1 to 10 check types (duplicates count once).
        #[schema(min_items = 1, max_items = 10)]
        pub check_types: Vec<CheckType>,
    }
);

impl CreateCheckBody {
    const SINGLE: bool = true;
}

impl CreateChecksBody {
    const SINGLE: bool = false;
}

/// The families of check types that need the same subject fields, with those fields.
fn families() -> Vec<(Vec<CheckType>, &'static [&'static str])> {
    let mut out: Vec<(Vec<CheckType>, &'static [&'static str])> = Vec::new();
    for t in CheckType::ALL {
        let fields = dom::required_fields(t.as_str());
        match out.iter_mut().find(|(_, f)| *f == fields) {
            Some((types, _)) => types.push(t),
            None => out.push((vec![t], fields)),
        }
    }
    out
}

/// The derived schema of a create body with one branch per family of check types, each requiring the
/// fields its types need (JSON Schema has no "required when", so the rule is spelled out as branches).
/// `types_key` is `check_type` (a value) or `check_types` (an array); an array body also gets a branch
/// for any mix of types with every subject field that some type needs.
fn with_type_branches(
    base: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    types_key: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use serde_json::{json, Value};
    let base = serde_json::to_value(base).expect("a schema serialises");
    let branch = |types: &[CheckType], fields: &[&str]| -> Value {
        let mut b = base.clone();
        let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        let enumed = json!({ "type": "string", "enum": names });
        b["properties"][types_key] = if types_key == "check_types" {
            let mut arr = base["properties"][types_key].clone();
            arr["items"] = enumed;
            arr
        } else {
            enumed
        };
        let required = b["required"].as_array_mut().expect("the body has required fields");
        for f in fields {
            required.push(json!(f));
        }
        // A required field must hold a value: its non-null form.
        for f in fields {
            let prop = &mut b["properties"][*f];
            if let Some(one_of) = prop.get("oneOf").and_then(Value::as_array) {
                let values: Vec<Value> = one_of.iter().filter(|s| s["type"] != "null").cloned().collect();
                if values.len() == 1 {
                    *prop = values.into_iter().next().unwrap_or_default();
                }
            } else if let Some(types) = prop.get("type").and_then(Value::as_array) {
                let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                prop["type"] = Value::Array(types);
            }
        }
        // Only AML types can be monitored: a branch of other types allows no `true`.
        if !types.iter().any(|t| dom::is_aml(t.as_str())) {
            b["properties"]["monitoring_enabled"] = json!({"type": ["boolean", "null"], "enum": [false, null],
                "description": "AML types only: false or absent."});
        }
        if let Some(o) = b.as_object_mut() {
            o.remove("description");
        }
        b
    };
    let mut branches: Vec<Value> = families().iter().map(|(types, fields)| branch(types, fields)).collect();
    let key = if types_key == "check_types" {
        let mut all: Vec<&str> = Vec::new();
        for (_, fields) in families() {
            all.extend(fields.iter().copied());
        }
        branches.push(branch(&CheckType::ALL, &all));
        "anyOf"
    } else {
        "oneOf"
    };
    let mut doc = json!({ key: branches });
    if let Some(d) = base.get("description") {
        doc["description"] = d.clone();
    }
    crate::domain::values::schema_from(doc)
}

/// The documented form of `CreateCheckBody`: one branch per family of check types.
pub struct CreateCheckRequest;

impl utoipa::PartialSchema for CreateCheckRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        with_type_branches(<CreateCheckBody as utoipa::PartialSchema>::schema(), "check_type")
    }
}

impl ToSchema for CreateCheckRequest {
    fn schemas(out: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <CreateCheckBody as ToSchema>::schemas(out);
    }
}

/// The documented form of `CreateChecksBody`: one branch per family of check types, and one for any mix
/// with every subject field (a mix needs the fields of each of its types).
pub struct CreateChecksRequest;

impl utoipa::PartialSchema for CreateChecksRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        with_type_branches(<CreateChecksBody as utoipa::PartialSchema>::schema(), "check_types")
    }
}

impl ToSchema for CreateChecksRequest {
    fn schemas(out: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <CreateChecksBody as ToSchema>::schemas(out);
    }
}

fn check_example() -> serde_json::Value {
    serde_json::json!({
        "id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "check", "check_type": "sanction", "status": "clear",
        "has_match": false, "hit_count": 0, "total_hit_count": 0, "dismissed_count": 0,
        "provider": "idv_watchlists", "error_reason": null, "note": null, "origin": "api",
        "external_ref": "user_12345", "identity_id": null, "session_id": null, "batch_id": null,
        "monitoring_enabled": false, "is_sandbox": false,
        "subject": { "name_first": "Jane", "name_last": "Doe", "birthdate": "1990-04-12" },
        "threshold": 0.6, "run_count": 1,
        "list_versions": [{ "watchlist_id": "ofac", "version_id": "wlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
            "published": "2025-01-10", "entry_count": 17000, "imported_at": "2025-01-11T08:00:00Z" }],
        "hits": [], "suppressed_hits": [], "tags": [], "redacted_at": null,
        "created_at": "2025-01-12T10:00:00Z", "updated_at": "2025-01-12T10:00:00Z",
        "completed_at": "2025-01-12T10:00:00Z"
    })
}

#[utoipa::path(post, path = "/api/v1/checks", tag = "Checks", operation_id = "create_check",
    request_body = CreateCheckRequest,
    responses((status = 201, description = "The check, already run", body = CheckView, example = json!({
        "id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "check", "check_type": "sanction", "status": "clear",
        "has_match": false, "hit_count": 0, "total_hit_count": 0, "dismissed_count": 0,
        "provider": "idv_watchlists", "error_reason": null, "note": null, "origin": "api",
        "external_ref": "user_12345", "identity_id": null, "session_id": null, "batch_id": null,
        "monitoring_enabled": false, "is_sandbox": false,
        "subject": { "name_first": "Jane", "name_last": "Doe" }, "threshold": 0.6, "run_count": 1,
        "list_versions": [], "hits": [], "suppressed_hits": [], "tags": [], "redacted_at": null,
        "created_at": "2025-01-12T10:00:00Z", "updated_at": "2025-01-12T10:00:00Z",
        "completed_at": "2025-01-12T10:00:00Z"})),
        (status = 404, description = "The `identity_id` or `session_id` names nothing in this environment", body = ErrorBody),
        (status = 409, description = "The identity has been redacted", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateCheckBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let input = b.input(&[b.check_type], Vec::new())?;
    let ids =
        cmd::create(&state.writer, &state.cpu, state.screening.current(), p.meta(state.now()), vec![input], false)
            .await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::created(state.read(move |c| q::get(c, &keyring, &env, &ids[0])).await?))
}

/// The checks of one `POST /checks/full`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBatch {
    pub batch_id: CheckBatchId,
    pub data: Vec<CheckView>,
}

#[utoipa::path(post, path = "/api/v1/checks/full", tag = "Checks", operation_id = "create_checks",
    request_body = CreateChecksRequest,
    responses((status = 201, description = "One check per type, sharing a batch id", body = CheckBatch,
        example = json!({"batch_id": "batch_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "data": []})),
        (status = 404, description = "The `identity_id` or `session_id` names nothing in this environment", body = ErrorBody),
        (status = 409, description = "The identity has been redacted", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create_full(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateChecksBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let mut errors = Vec::new();
    let mut types: Vec<CheckType> = Vec::new();
    for t in &b.check_types {
        if !types.contains(t) {
            types.push(*t);
        }
    }
    if types.is_empty() || b.check_types.len() > 10 {
        errors.push(FieldError::new("check_types", "must be an array of 1 to 10 check types"));
    }
    let input = b.input(if types.is_empty() { &[CheckType::Sanction] } else { &types }, errors)?;
    let inputs = types.iter().map(|t| CreateCheck { check_type: *t, ..input.clone() }).collect();
    let ids =
        cmd::create(&state.writer, &state.cpu, state.screening.current(), p.meta(state.now()), inputs, true).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let data: Vec<_> = state.read(move |c| ids.iter().map(|id| q::get(c, &keyring, &env, id)).collect()).await?;
    let batch_id = data
        .first()
        .and_then(|c| c.batch_id.clone())
        .ok_or_else(|| AppError::Internal("a batch of checks without a batch id".into()))?;
    Ok(Reply::created(CheckBatch { batch_id, data }))
}

/// Filters and paging of a list of checks.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckListQuery {
    pub check_type: Option<CheckType>,
    pub status: Option<CheckStatus>,
    pub external_ref: Option<ExternalRef>,
    /// Checks of one `POST /checks/full`.
    pub batch_id: Option<CheckBatchId>,
    /// Checks carrying this tag.
    pub tag: Option<Tag>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// On `GET /checks` only: checks linked to one identity or session.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckLinkQuery {
    pub identity_id: Option<IdentityId>,
    pub session_id: Option<SessionId>,
}

impl CheckListQuery {
    fn filter(&self) -> Result<(ListFilter, Page), AppError> {
        let page = super::body::PageQuery { limit: self.limit, offset: self.offset }.page(25)?;
        let filter = ListFilter {
            check_type: self.check_type,
            status: self.status,
            external_ref: self.external_ref.clone(),
            batch_id: self.batch_id.clone(),
            tag: self.tag.clone(),
            ..ListFilter::default()
        };
        Ok((filter, page))
    }
}

#[utoipa::path(get, path = "/api/v1/checks", tag = "Checks", operation_id = "list_checks",
    params(CheckListQuery, CheckLinkQuery),
    responses((status = 200, description = "Checks of this environment, newest first", body = OffsetPage<CheckView>,
        example = json!({"data": [], "pagination": {"total": 0, "limit": 25, "offset": 0}}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(
    state: web::Data<AppState>,
    p: Principal,
    query: ApiQuery<CheckListQuery>,
    links: ApiQuery<CheckLinkQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (mut f, page) = query.0.filter()?;
    f.identity_id = links.0.identity_id;
    f.session_id = links.0.session_id;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::list(c, &keyring, &env, &f, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/checks/{check_id}", tag = "Checks", operation_id = "get_check",
    params(("check_id" = CheckId, Path, description = "The check")),
    responses((status = 200, description = "The check with its hits", body = CheckView, example = check_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<CheckId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &path)).await?))
}

/// A PDF file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct PdfBytes(Vec<u8>);

#[utoipa::path(get, path = "/api/v1/checks/{check_id}/report.pdf", tag = "Checks", operation_id = "get_check_report",
    params(("check_id" = CheckId, Path, description = "The check")),
    responses((status = 200, description = "The check as a PDF: its subject, the lists and versions screened, each hit with its scores and explanation, each dismissal with who, why and when",
        content((PdfBytes = "application/pdf")))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn report(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CheckId>,
) -> Result<actix_web::HttpResponse, AppError> {
    p.require(READ, &[WRITE])?;
    let (keyring, env, now) = (state.keyring.clone(), p.env(), state.now());
    let check = state.read(move |c| q::get(c, &keyring, &env, &path)).await?;
    let name = format!("attachment; filename=\"{}.pdf\"", check.id);
    let pdf = state.cpu.run(move || Ok(crate::report::check_pdf(&check, &now))).await?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(("Content-Disposition", name))
        .body(pdf))
}

#[utoipa::path(get, path = "/api/v1/checks/{check_id}/hits", tag = "Checks", operation_id = "list_check_hits",
    params(("check_id" = CheckId, Path, description = "The check")),
    responses((status = 200, description = "The hits of the check's latest run, best first (one page)",
        body = OffsetPage<HitView>,
        example = json!({"data": [], "pagination": {"total": 0, "limit": 0, "offset": 0}}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn hits(state: web::Data<AppState>, p: Principal, path: ApiPath<CheckId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let check = state.read(move |c| q::get(c, &keyring, &env, &path)).await?;
    let total = check.hits.len() as i64;
    Ok(Reply::ok(OffsetPage::new(check.hits, total, Page { limit: total, offset: 0 })))
}

/// Hits to dismiss as false positives.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissBody {
    /// Hits of the latest run, 1 to 100; omit to dismiss every open hit.
    #[schema(min_items = 1, max_items = 100)]
    pub hit_ids: Option<Vec<CheckHitId>>,
    /// Why (sealed at rest), at most 1000 characters.
    #[schema(max_length = 1000, example = "Different person: born 1961")]
    pub reason: Option<String>,
}

/// The outcome of a dismissal.
#[derive(Debug, Serialize, ToSchema)]
pub struct DismissResult {
    pub check_id: CheckId,
    /// Hits newly dismissed (0 when they already were).
    pub dismissed_count: usize,
}

#[utoipa::path(post, path = "/api/v1/checks/{check_id}/dismiss", tag = "Checks", operation_id = "dismiss_check_hits",
    params(("check_id" = CheckId, Path, description = "The check")),
    request_body = DismissBody,
    responses((status = 200, description = "Hits dismissed", body = DismissResult,
        example = json!({"check_id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "dismissed_count": 1})),
        (status = 404, description = "No such check, or a `hit_ids` entry is not a hit of its latest run", body = ErrorBody),
        (status = 409, description = "The check has been redacted", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn dismiss(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CheckId>,
    body: ApiBody<DismissBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let reason = b.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(AppError::validation("reason", "must be at most 1000 characters"));
    }
    if b.hit_ids.as_ref().is_some_and(|h| h.is_empty() || h.len() > 100) {
        return Err(AppError::validation("hit_ids", "must list 1 to 100 hit ids (omit it to dismiss every hit)"));
    }
    let (check_id, dismissed_count) =
        cmd::dismiss(&state.writer, p.meta(state.now()), path.into_inner(), b.hit_ids, reason).await?;
    Ok(Reply::ok(DismissResult { check_id, dismissed_count }))
}

#[utoipa::path(post, path = "/api/v1/checks/{check_id}/rerun", tag = "Checks", operation_id = "rerun_check",
    params(("check_id" = CheckId, Path, description = "The check")),
    responses((status = 200, description = "The check after running again on its stored subject against the \
        current lists (earlier dismissals apply)", body = CheckView, example = check_example),
        (status = 409, description = "The check has been redacted", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn rerun(state: web::Data<AppState>, p: Principal, path: ApiPath<CheckId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::rerun(
        &state.writer,
        &state.read,
        &state.cpu,
        state.keyring.clone(),
        state.screening.current(),
        p.meta(state.now()),
        path.into_inner(),
    )
    .await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/checks/{check_id}/redact", tag = "Checks", operation_id = "redact_check",
    params(("check_id" = CheckId, Path, description = "The check")),
    responses((status = 200, description = "The check with its personal data erased (subject null)",
        body = CheckView, example = check_example),
        (status = 409, description = "Already redacted, or the data belongs to the check's identity (redact the \
            identity instead)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn redact(state: web::Data<AppState>, p: Principal, path: ApiPath<CheckId>) -> ApiResult {
    p.require("redact:write", &[WRITE])?;
    let id = cmd::redact(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id)).await?))
}

/// Offset page of a monitoring history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl HistoryQuery {
    pub fn page(&self) -> Result<Page, AppError> {
        super::body::PageQuery { limit: self.limit, offset: self.offset }.page(25)
    }
}

fn history_example() -> serde_json::Value {
    serde_json::json!({"data": [{"subject_type": "check", "subject_id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "screened_at": "2025-01-13T08:00:00.000Z", "watchlist_id": "ofac",
        "list_version_id": "wlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "hits_before": 0, "hits_after": 1, "new_hit_count": 1,
        "new_hit_ids": ["hit_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C"], "check_id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C"}],
        "pagination": {"total": 1, "limit": 25, "offset": 0}})
}

#[utoipa::path(get, path = "/api/v1/checks/{check_id}/monitoring-history", tag = "Checks",
    operation_id = "get_check_monitoring_history",
    params(("check_id" = CheckId, Path, description = "The check"), HistoryQuery),
    responses((status = 200, description = "Each monitoring pass that screened the check, newest first: when, \
        the watchlist version, open hits before and after, the new hits", body = OffsetPage<MonitoringPassView>,
        example = history_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn monitoring_history(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CheckId>,
    query: ApiQuery<HistoryQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let page = query.0.page()?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::check_monitoring_history(c, &env, &path, page)).await?))
}

#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_monitoring(state: web::Data<AppState>, p: Principal, id: CheckId, on: bool) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::set_monitoring(&state.writer, p.meta(state.now()), id, on).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/checks/{check_id}/monitoring/enable", tag = "Checks",
    operation_id = "enable_check_monitoring",
    params(("check_id" = CheckId, Path, description = "The check")),
    responses((status = 200, description = "The check, monitored: each new watchlist version's changes are \
        screened against its subject (live sanction checks)", body = CheckView, example = check_example),
        (status = 409, description = "The check has been redacted, or is not an AML check", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn enable_monitoring(state: web::Data<AppState>, p: Principal, path: ApiPath<CheckId>) -> ApiResult {
    set_monitoring(state, p, path.into_inner(), true).await
}

#[utoipa::path(post, path = "/api/v1/checks/{check_id}/monitoring/disable", tag = "Checks",
    operation_id = "disable_check_monitoring",
    params(("check_id" = CheckId, Path, description = "The check")),
    responses((status = 200, description = "The check, no longer monitored (its history stays)", body = CheckView,
        example = check_example),
        (status = 409, description = "The check has been redacted", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn disable_monitoring(state: web::Data<AppState>, p: Principal, path: ApiPath<CheckId>) -> ApiResult {
    set_monitoring(state, p, path.into_inner(), false).await
}

/// Tags to add or set: `tags`, `tag`, or both (adding none changes nothing; setting none clears them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckTagsBody {
    #[schema(max_items = 50)]
    pub tags: Option<Vec<Tag>>,
    /// One more tag.
    pub tag: Option<Tag>,
}

impl CheckTagsBody {
    fn tags(self) -> Result<Vec<Tag>, AppError> {
        let mut tags = self.tags.unwrap_or_default();
        tags.extend(self.tag);
        values::dedup_tags("tags", tags).map_err(|e| AppError::validation(&e.field, e.message))
    }
}

/// A check's tags after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckTags {
    pub id: CheckId,
    pub tags: Vec<String>,
}

#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn tag_command(state: web::Data<AppState>, p: Principal, id: CheckId, change: TagChange) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::tags(&state.writer, p.meta(state.now()), id, change).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let check = state.read(move |c| q::get(c, &keyring, &env, &id)).await?;
    Ok(Reply::ok(CheckTags { id: check.id, tags: check.tags }))
}

#[utoipa::path(post, path = "/api/v1/checks/{check_id}/tags", tag = "Checks", operation_id = "add_check_tags",
    params(("check_id" = CheckId, Path, description = "The check")),
    request_body = CheckTagsBody,
    responses((status = 200, description = "The check's tags", body = CheckTags,
        example = json!({"id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "tags": ["kyc", "review"]})),
        (status = 409, description = "The check has been redacted, or would carry more than 50 tags", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn add_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CheckId>,
    body: ApiBody<CheckTagsBody>,
) -> ApiResult {
    // Adding no tag changes nothing: the answer is the check's tags as they are.
    let tags = body.0.tags()?;
    tag_command(state, p, path.into_inner(), TagChange::Add(tags)).await
}

#[utoipa::path(put, path = "/api/v1/checks/{check_id}/tags", tag = "Checks", operation_id = "set_check_tags",
    params(("check_id" = CheckId, Path, description = "The check")),
    request_body = CheckTagsBody,
    responses((status = 200, description = "The check's tags (replaced)", body = CheckTags,
        example = json!({"id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "tags": ["a"]})),
        (status = 409, description = "The check has been redacted", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CheckId>,
    body: ApiBody<CheckTagsBody>,
) -> ApiResult {
    let tags = body.0.tags()?;
    tag_command(state, p, path.into_inner(), TagChange::Set(tags)).await
}

#[utoipa::path(delete, path = "/api/v1/checks/{check_id}/tags/{tag}", tag = "Checks",
    operation_id = "remove_check_tag",
    params(("check_id" = CheckId, Path, description = "The check"), ("tag" = Tag, Path, description = "The tag")),
    responses((status = 200, description = "The check's tags (without this one)", body = CheckTags,
        example = json!({"id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "tags": []})),
        (status = 409, description = "The check has been redacted", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn remove_tag(state: web::Data<AppState>, p: Principal, path: ApiPath<(CheckId, Tag)>) -> ApiResult {
    let (id, tag) = path.into_inner();
    tag_command(state, p, id, TagChange::Remove(tag)).await
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/checks", tag = "Checks",
    operation_id = "list_session_checks",
    params(("session_id" = SessionId, Path, description = "The session"), CheckListQuery),
    responses((status = 200, description = "The session's checks, newest first", body = OffsetPage<CheckView>,
        example = json!({"data": [], "pagination": {"total": 0, "limit": 25, "offset": 0}}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn session_checks(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    query: ApiQuery<CheckListQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (mut f, page) = query.0.filter()?;
    f.session_id = Some(path.into_inner());
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::session_checks(c, &keyring, &env, &f, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/checks", tag = "Checks",
    operation_id = "list_identity_checks",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref"), CheckListQuery),
    responses((status = 200, description = "The identity's checks, newest first", body = OffsetPage<CheckView>,
        example = json!({"data": [], "pagination": {"total": 0, "limit": 25, "offset": 0}}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn identity_checks(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    query: ApiQuery<CheckListQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE, "identities:read"])?;
    let (f, page) = query.0.filter()?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::identity_checks(c, &keyring, &env, path.as_str(), f, page)).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        create_full,
        get,
        report,
        hits,
        dismiss,
        rerun,
        redact,
        monitoring_history,
        enable_monitoring,
        disable_monitoring,
        add_tags,
        set_tags,
        remove_tag,
        session_checks,
        identity_checks
    ),
    components(schemas(
        CreateCheckRequest,
        CreateChecksRequest,
        DismissBody,
        CheckTagsBody,
        CheckView,
        CheckBatch,
        DismissResult,
        CheckTags,
        MonitoringPassView
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
