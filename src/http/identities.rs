//! /identities: list, create, get, update, redact, export, search, audit log, tags, merge, archive,
//! monitoring, custom field values and image matches. Each handler parses a typed input (the request types
//! here, the id and value types of `domain`), makes one call into commands or queries, and answers with a
//! typed response; the `#[utoipa::path]` annotations are what the OpenAPI document says of them. Must not
//! build SQL or touch the store.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::identities::{self as cmd, CreateIdentity, MergeOptions, UpdateIdentity};
use crate::domain::identity::{canonical_status, IdentityCommand};
use crate::domain::ids::{IdentityRef, IdentityTypeId};
use crate::domain::values::{
    self, nullable, AddressLine, CountryCode, DocumentNumber, Email, ExternalRef, PartialBirthDate, PersonName,
    PersonalDataPatch, Phone, PlaceName, ShortText, StatusName, Tag,
};
use crate::error::{AppError, FieldError};
use crate::queries::identities::{self as q, Archived, Cursor, IdentityCriteria};
use crate::queries::{CursorPage, OffsetPage};
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/identities", "List identities", web::get().to(list));
    t.add("POST", "/identities", "Create an identity", web::post().to(create));
    t.add("POST", "/identities/search", "Search identities", web::post().to(search));
    t.add("POST", "/identities/search/advanced", "Advanced identity search", web::post().to(advanced_search));
    t.add("POST", "/identities/merge/preview", "Preview identity merge", web::post().to(merge_preview));
    t.add("POST", "/identities/merge", "Merge identities", web::post().to(merge));
    t.add("POST", "/identities/merge-multiple", "Merge multiple identities", web::post().to(merge_multiple));
    t.add("GET", "/identities/{identity_id}", "Get an identity", web::get().to(get));
    t.add("PATCH", "/identities/{identity_id}", "Update an identity", web::patch().to(update));
    t.add("DELETE", "/identities/{identity_id}/data", "Redact an identity", web::delete().to(redact));
    t.add("GET", "/identities/{identity_id}/export", "Export identity data (DSAR)", web::get().to(export));
    t.add("GET", "/identities/{identity_id}/audit-log", "Get identity audit log", web::get().to(audit_log));
    t.add("POST", "/identities/{identity_id}/tags/add", "Add a tag", web::post().to(add_tag));
    t.add("POST", "/identities/{identity_id}/tags/remove", "Remove a tag", web::post().to(remove_tag));
    t.add("POST", "/identities/{identity_id}/tags", "Set tags", web::post().to(set_tags));
    t.add("POST", "/identities/{identity_id}/archive", "Archive an identity", web::post().to(archive));
    t.add("POST", "/identities/{identity_id}/restore", "Restore an archived identity", web::post().to(restore));
    t.add("POST", "/identities/{identity_id}/monitoring/pause", "Pause continuous monitoring", web::post().to(pause));
    t.add(
        "POST",
        "/identities/{identity_id}/monitoring/resume",
        "Resume continuous monitoring",
        web::post().to(resume),
    );
    t.add(
        "GET",
        "/identities/{identity_id}/monitoring-history",
        "Monitoring history",
        web::get().to(monitoring_history),
    );
    t.add(
        "GET",
        "/identities/{identity_id}/custom-fields",
        "Get custom field values",
        web::get().to(get_custom_fields),
    );
    t.add(
        "GET",
        "/identities/{identity_id}/image-matches",
        "Find cross-session image similarity matches",
        web::get().to(image_matches),
    );
    t.add(
        "PATCH",
        "/identities/{identity_id}/custom-fields",
        "Set custom field values",
        web::patch().to(set_custom_fields),
    );
}

const READ: &str = "identities:read";
const WRITE: &str = "identities:write";

const TAG: &str = "Identities";

crate::personal_data_struct!(
    date_of_birth = PartialBirthDate;
    /// Creates an identity (spec §1.6.4), optionally with its personal data, sealed at rest. The date of
    /// birth may be partial (`YYYY`, `YYYY-MM`) when that is all that is known; screening uses it at that
    /// precision.
    pub struct CreateIdentityBody {
        /// Your reference for the person; unique per environment (409 on a duplicate unless `upsert`).
        pub external_ref: ExternalRef,
        /// Return the existing identity (200, `upserted: true`) instead of a 409 when the ref exists.
        #[serde(default)]
        pub upsert: bool,
        pub status: Option<StatusName>,
        pub country: Option<CountryCode>,
        /// The identity type (its default applies when omitted).
        pub identity_type_id: Option<IdentityTypeId>,
        /// At most 50 tags.
        #[schema(max_items = 50)]
        pub tags: Option<Vec<Tag>>,
    }
);

/// Updates an identity (spec §1.6.5). Every field is optional; `null` clears a personal-data field,
/// `country` or `identity_type_id`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIdentityBody {
    pub external_ref: Option<ExternalRef>,
    pub status: Option<StatusName>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(nullable)]
    pub country: Option<Option<CountryCode>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(nullable)]
    pub identity_type_id: Option<Option<IdentityTypeId>>,
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: Option<Option<PersonName>>,
    #[serde(default, deserialize_with = "nullable")]
    pub middle_name: Option<Option<PersonName>>,
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: Option<Option<PersonName>>,
    #[serde(default, deserialize_with = "nullable")]
    pub date_of_birth: Option<Option<PartialBirthDate>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<Phone>>,
    #[serde(default, deserialize_with = "nullable")]
    pub address_line1: Option<Option<AddressLine>>,
    #[serde(default, deserialize_with = "nullable")]
    pub address_line2: Option<Option<AddressLine>>,
    #[serde(default, deserialize_with = "nullable")]
    pub city: Option<Option<PlaceName>>,
    #[serde(default, deserialize_with = "nullable")]
    pub state: Option<Option<PlaceName>>,
    #[serde(default, deserialize_with = "nullable")]
    pub zip_code: Option<Option<ShortText>>,
    #[serde(default, deserialize_with = "nullable")]
    pub document_number: Option<Option<DocumentNumber>>,
    #[serde(default, deserialize_with = "nullable")]
    pub ssn: Option<Option<ShortText>>,
    #[serde(default, deserialize_with = "nullable")]
    pub nationality: Option<Option<CountryCode>>,
    #[serde(default, deserialize_with = "nullable")]
    pub gender: Option<Option<ShortText>>,
}

impl UpdateIdentityBody {
    fn personal_data(&self) -> Result<PersonalDataPatch, FieldError> {
        let mut patch = PersonalDataPatch::default();
        for (field, value) in [
            ("first_name", self.first_name.as_ref().map(|v| v.as_ref().map(PersonName::as_str))),
            ("middle_name", self.middle_name.as_ref().map(|v| v.as_ref().map(PersonName::as_str))),
            ("last_name", self.last_name.as_ref().map(|v| v.as_ref().map(PersonName::as_str))),
            ("date_of_birth", self.date_of_birth.as_ref().map(|v| v.as_ref().map(PartialBirthDate::as_str))),
            ("email", self.email.as_ref().map(|v| v.as_ref().map(Email::as_str))),
            ("phone", self.phone.as_ref().map(|v| v.as_ref().map(Phone::as_str))),
            ("address_line1", self.address_line1.as_ref().map(|v| v.as_ref().map(AddressLine::as_str))),
            ("address_line2", self.address_line2.as_ref().map(|v| v.as_ref().map(AddressLine::as_str))),
            ("city", self.city.as_ref().map(|v| v.as_ref().map(PlaceName::as_str))),
            ("state", self.state.as_ref().map(|v| v.as_ref().map(PlaceName::as_str))),
            ("zip_code", self.zip_code.as_ref().map(|v| v.as_ref().map(ShortText::as_str))),
            ("document_number", self.document_number.as_ref().map(|v| v.as_ref().map(DocumentNumber::as_str))),
            ("ssn", self.ssn.as_ref().map(|v| v.as_ref().map(ShortText::as_str))),
            ("nationality", self.nationality.as_ref().map(|v| v.as_ref().map(CountryCode::as_str))),
            ("gender", self.gender.as_ref().map(|v| v.as_ref().map(ShortText::as_str))),
        ] {
            if let Some(change) = value {
                patch.set(field, change)?;
            }
        }
        Ok(patch)
    }
}

/// Filters and pages of `GET /identities` (spec §1.6.3): offset pages by default, cursor pages when any
/// `page[...]` parameter is sent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Comma-separated statuses (aliases accepted).
    #[param(example = "approved,under_review")]
    status: Option<String>,
    /// Matches a part of the external_ref.
    #[param(max_length = 255)]
    q: Option<String>,
    identity_type_id: Option<IdentityTypeId>,
    tag: Option<Tag>,
    /// Also list archived identities.
    include_archived: Option<bool>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// Cursor: the page after this identity id (older identities).
    #[serde(rename = "page[after]")]
    #[param(rename = "page[after]", value_type = Option<crate::domain::ids::IdentityId>)]
    page_after: Option<crate::domain::ids::IdentityId>,
    /// Cursor: the page before this identity id (newer identities).
    #[serde(rename = "page[before]")]
    #[param(rename = "page[before]", value_type = Option<crate::domain::ids::IdentityId>)]
    page_before: Option<crate::domain::ids::IdentityId>,
    /// Cursor page size, 1 to 100 (default 25).
    #[serde(rename = "page[size]")]
    #[param(rename = "page[size]", minimum = 1, maximum = 100)]
    page_size: Option<i64>,
}

/// Statuses from a comma-separated filter, aliases mapped; unknown names are kept (custom statuses).
fn statuses_of(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| canonical_status(s).map(str::to_string).unwrap_or_else(|| s.to_string()))
        .collect()
}

fn page_of(limit: Option<i64>, offset: Option<i64>, default_limit: i64) -> Result<crate::queries::Page, AppError> {
    PageQuery { limit, offset }.page(default_limit)
}

#[utoipa::path(get, path = "/api/v1/identities", tag = TAG, operation_id = "list_identities",
    params(ListQuery),
    responses((status = 200, description = "A page of identities, newest first (an offset page, or a cursor page when any page[...] parameter is sent)",
        body = IdentityListPage)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, query: ApiQuery<ListQuery>) -> ApiResult {
    p.require(READ, &[])?;
    let query = query.0;
    let criteria = IdentityCriteria {
        statuses: query.status.as_deref().map(statuses_of).unwrap_or_default(),
        external_ref_contains: query.q.clone(),
        identity_type_id: query.identity_type_id.clone(),
        tags_all: query.tag.clone().into_iter().collect(),
        archived: if query.include_archived.unwrap_or(false) { Archived::Include } else { Archived::Exclude },
        ..Default::default()
    };
    let (keyring, env) = (state.keyring.clone(), p.env());
    if query.page_after.is_some() || query.page_before.is_some() || query.page_size.is_some() {
        let size = query.page_size.unwrap_or(25);
        if !(1..=100).contains(&size) {
            return Err(AppError::validation("page[size]", "must be an integer from 1 to 100"));
        }
        // page[after] wins when both are sent (docs/api-decisions.md).
        let cursor = match (query.page_after, query.page_before) {
            (Some(a), _) => Cursor::After(a.into_string()),
            (None, Some(b)) => Cursor::Before(b.into_string()),
            (None, None) => Cursor::First,
        };
        let page = state.read(move |c| q::list_cursor(c, &keyring, &env, &criteria, cursor, size)).await?;
        return Ok(Reply::ok(IdentityListPage::Cursor(page)));
    }
    let page = page_of(query.limit, query.offset, 25)?;
    let page = state.read(move |c| q::list_offset(c, &keyring, &env, &criteria, page)).await?;
    Ok(Reply::ok(IdentityListPage::Offset(page)))
}

/// The identity list: offset pages by default, cursor pages when a `page[...]` parameter is sent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum IdentityListPage {
    Offset(OffsetPage<q::Identity>),
    Cursor(CursorPage<q::Identity>),
}

#[utoipa::path(post, path = "/api/v1/identities", tag = TAG, operation_id = "create_identity",
    request_body = CreateIdentityBody,
    responses(
        (status = 201, description = "Created", body = q::CreatedIdentity),
        (status = 200, description = "`upsert` returned the existing identity", body = q::CreatedIdentity),
        (status = 404, description = "The identity type does not exist", body = ErrorBody),
        (status = 409, description = "An identity with this external_ref exists", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateIdentityBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let tags = values::dedup_tags("tags", b.tags.clone().unwrap_or_default())
        .map_err(|e| AppError::validation(&e.field, e.message))?;
    let input = CreateIdentity {
        pii: b.personal_data(),
        external_ref: b.external_ref,
        upsert: b.upsert,
        status: b.status,
        country: b.country,
        identity_type_id: b.identity_type_id,
        tags,
    };
    let outcome = cmd::create(&state.writer, state.keyring.clone(), p.meta(state.now()), input).await?;
    // A new identity's answer comes from the command (what it just wrote); only an upsert reads the view.
    let body = match outcome.summary {
        Some(summary) => q::CreatedIdentity {
            id: crate::domain::ids::IdentityId::from_stored(outcome.id),
            external_ref: summary.external_ref,
            status: summary.status,
            is_sandbox: p.environment() == "sandbox",
            created_at: summary.created_at,
            upserted: false,
        },
        None => {
            let env = p.env();
            state.read(move |c| q::created(c, &env, &outcome.id, true)).await?
        }
    };
    Ok(if outcome.created { Reply::created(body) } else { Reply::ok(body) })
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}", tag = TAG, operation_id = "get_identity",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses((status = 200, description = "The identity", body = q::Identity)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    p.require(READ, &[])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, path.as_str())).await?))
}

#[utoipa::path(patch, path = "/api/v1/identities/{identity_id}", tag = TAG, operation_id = "update_identity",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = UpdateIdentityBody,
    responses(
        (status = 200, description = "The updated identity", body = q::Identity),
        (status = 409, description = "Another identity has this external_ref, or the identity is redacted or merged", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<UpdateIdentityBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let pii = b.personal_data().map_err(|e| AppError::validation(&e.field, e.message))?;
    let input = UpdateIdentity {
        external_ref: b.external_ref,
        status: b.status,
        country: b.country,
        identity_type_id: b.identity_type_id,
        pii,
    };
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), input).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id)).await?))
}

/// The answer to a redaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redacted {
    pub id: String,
    /// Always `redacted`.
    pub status: String,
    pub message: String,
}

#[utoipa::path(delete, path = "/api/v1/identities/{identity_id}/data", tag = TAG, operation_id = "redact_identity",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses(
        (status = 200, description = "Personal data erased; the record stays for audit", body = Redacted),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn redact(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    p.require("redact:write", &[WRITE])?;
    let id = cmd::redact(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(Redacted {
        id,
        status: "redacted".into(),
        message: "Personal data has been erased; the record is kept for audit.".into(),
    }))
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/export", tag = TAG, operation_id = "export_identity",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses((status = 200, description = "Everything held about the person (GDPR Art. 15)", body = q::IdentityExport)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn export(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    p.require(READ, &[])?;
    let now = state.now();
    // The export itself is audited (api.identity.export) before the data leaves.
    let id = cmd::simple(&state.writer, p.meta(now.clone()), path.into_inner(), IdentityCommand::RecordExport).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::export(c, &keyring, &env, &id, &now)).await?))
}

/// Declares a search body: its own criteria, then the personal-data fields that have a blind index (each
/// matched through it) and the page, with `searchable_personal_data` to collect the personal data given.
macro_rules! search_body {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($extra)*
            pub first_name: Option<PersonName>,
            pub last_name: Option<PersonName>,
            pub date_of_birth: Option<PartialBirthDate>,
            pub email: Option<Email>,
            pub phone: Option<Phone>,
            pub city: Option<PlaceName>,
            pub state: Option<PlaceName>,
            pub zip_code: Option<ShortText>,
            pub document_number: Option<DocumentNumber>,
            pub ssn: Option<ShortText>,
            #[schema(minimum = 1, maximum = 100)]
            pub limit: Option<i64>,
            #[schema(minimum = 0)]
            pub offset: Option<i64>,
        }

        impl $name {
            fn searchable_personal_data(&self) -> values::PersonalData {
                let mut out = values::PersonalData::default();
                out.put_all(&[
                    ("first_name", self.first_name.as_ref().map(PersonName::as_str)),
                    ("last_name", self.last_name.as_ref().map(PersonName::as_str)),
                    ("date_of_birth", self.date_of_birth.as_ref().map(PartialBirthDate::as_str)),
                    ("email", self.email.as_ref().map(Email::as_str)),
                    ("phone", self.phone.as_ref().map(Phone::as_str)),
                    ("city", self.city.as_ref().map(PlaceName::as_str)),
                    ("state", self.state.as_ref().map(PlaceName::as_str)),
                    ("zip_code", self.zip_code.as_ref().map(ShortText::as_str)),
                    ("document_number", self.document_number.as_ref().map(DocumentNumber::as_str)),
                    ("ssn", self.ssn.as_ref().map(ShortText::as_str)),
                ]);
                out
            }
        }
    };
}

search_body!(
    /// Blind-index search (spec §1.6.7): every criterion given must match; first_name, last_name and
    /// date_of_birth come together.
    SearchBody {
        pub external_ref: Option<ExternalRef>,
        pub status: Option<StatusName>,
        pub country: Option<CountryCode>,
    }
);

/// Name + date of birth are searched together (one blind index), or not at all.
fn check_name_and_birth_date(pii: &values::PersonalData) -> Result<(), AppError> {
    let name_dob = ["first_name", "last_name", "date_of_birth"];
    let present = name_dob.iter().filter(|f| pii.as_map().contains_key(**f)).count();
    if present != 0 && present != 3 {
        return Err(AppError::Validation {
            detail: "first_name, last_name and date_of_birth must be supplied together.".into(),
            errors: name_dob
                .iter()
                .filter(|f| !pii.as_map().contains_key(**f))
                .map(|f| FieldError::new(*f, "is required with the other name and date-of-birth fields"))
                .collect(),
        });
    }
    Ok(())
}

fn search_criteria(pii: values::PersonalData) -> Result<std::collections::BTreeMap<String, String>, AppError> {
    check_name_and_birth_date(&pii)?;
    Ok(pii.into_map())
}

#[utoipa::path(post, path = "/api/v1/identities/search", tag = TAG, operation_id = "search_identities",
    request_body = SearchBody,
    responses((status = 200, description = "Matching identities", body = OffsetPage<q::Identity>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn search(state: web::Data<AppState>, p: Principal, body: ApiBody<SearchBody>) -> ApiResult {
    p.require(READ, &[])?;
    let b = body.0;
    let page = page_of(b.limit, b.offset, 25)?;
    let criteria = IdentityCriteria {
        personal_data: search_criteria(b.searchable_personal_data())?,
        external_ref: b.external_ref,
        statuses: b.status.map(|s| statuses_of(s.as_str())).unwrap_or_default(),
        country: b.country,
        ..Default::default()
    };
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::list_offset(c, &keyring, &env, &criteria, page)).await?))
}

search_body!(
    /// Advanced search (spec §1.6.7 and docs/api-decisions.md): the basic criteria plus status sets, tags
    /// (all / any), type, flags, archive and monitoring state, date ranges and custom field equality.
    AdvancedSearchBody {
        pub external_ref: Option<ExternalRef>,
        #[schema(max_length = 255)]
        pub external_ref_prefix: Option<String>,
        pub status: Option<StatusName>,
        pub statuses: Option<Vec<StatusName>>,
        pub country: Option<CountryCode>,
        pub identity_type_id: Option<IdentityTypeId>,
        /// Every one of these tags.
        pub tags: Option<Vec<Tag>>,
        /// At least one of these tags.
        pub tags_any: Option<Vec<Tag>>,
        pub is_flagged: Option<bool>,
        pub include_archived: Option<bool>,
        /// true: only archived; false: only not archived.
        pub archived: Option<bool>,
        pub monitoring_enabled: Option<bool>,
        #[schema(value_type = Option<String>, format = DateTime)]
        pub created_after: Option<Timestamp>,
        #[schema(value_type = Option<String>, format = DateTime)]
        pub created_before: Option<Timestamp>,
        #[schema(value_type = Option<String>, format = DateTime)]
        pub updated_after: Option<Timestamp>,
        #[schema(value_type = Option<String>, format = DateTime)]
        pub updated_before: Option<Timestamp>,
        /// Equality on non-encrypted custom fields.
        #[schema(value_type = Option<Object>)]
        pub custom_fields: Option<Map<String, Value>>,
    }
);

/// An RFC 3339 timestamp, normalised to idv's UTC form.
#[derive(Debug, Clone)]
pub struct Timestamp(String);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::clock::parse(&text)
            .map(|t| Timestamp(crate::clock::format(t)))
            .ok_or_else(|| serde::de::Error::custom("must be an RFC 3339 timestamp"))
    }
}

#[utoipa::path(post, path = "/api/v1/identities/search/advanced", tag = TAG, operation_id = "advanced_search_identities",
    request_body = AdvancedSearchBody,
    responses((status = 200, description = "Matching identities", body = OffsetPage<q::Identity>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn advanced_search(state: web::Data<AppState>, p: Principal, body: ApiBody<AdvancedSearchBody>) -> ApiResult {
    p.require(READ, &[])?;
    let b = body.0;
    let page = page_of(b.limit, b.offset, 25)?;
    let mut statuses: Vec<String> = b.status.iter().flat_map(|s| statuses_of(s.as_str())).collect();
    statuses.extend(b.statuses.iter().flatten().flat_map(|s| statuses_of(s.as_str())));
    let criteria = IdentityCriteria {
        personal_data: search_criteria(b.searchable_personal_data())?,
        external_ref: b.external_ref,
        external_ref_prefix: b.external_ref_prefix,
        statuses,
        country: b.country,
        identity_type_id: b.identity_type_id,
        tags_all: b.tags.unwrap_or_default(),
        tags_any: b.tags_any.unwrap_or_default(),
        is_flagged: b.is_flagged,
        monitoring_enabled: b.monitoring_enabled,
        archived: match (b.archived, b.include_archived.unwrap_or(false)) {
            (Some(true), _) => Archived::Only,
            (Some(false), _) | (None, false) => Archived::Exclude,
            (None, true) => Archived::Include,
        },
        created_after: b.created_after.map(|t| t.0),
        created_before: b.created_before.map(|t| t.0),
        updated_after: b.updated_after.map(|t| t.0),
        updated_before: b.updated_before.map(|t| t.0),
        custom_fields: b.custom_fields.unwrap_or_default().into_iter().collect(),
        external_ref_contains: None,
    };
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::list_offset(c, &keyring, &env, &criteria, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/audit-log", tag = TAG, operation_id = "identity_audit_log",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref"), PageQuery),
    responses((status = 200, description = "The identity's trail and its sessions', newest first", body = OffsetPage<q::AuditEntry>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn audit_log(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    query: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require(READ, &[])?;
    let (env, page) = (p.env(), query.0.page(50)?);
    Ok(Reply::ok(state.read(move |c| q::audit_log_by_ref(c, &env, path.as_str(), page)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    pub tag: Tag,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// The complete tag list (at most 50).
    #[schema(max_items = 50)]
    pub tags: Vec<Tag>,
}

#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn tag_command(state: web::Data<AppState>, p: Principal, id: IdentityRef, command: IdentityCommand) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), id, command).await?;
    Ok(Reply::ok(state.read(move |c| q::tags_of(c, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/tags/add", tag = TAG, operation_id = "add_identity_tag",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = TagBody,
    responses(
        (status = 200, description = "The identity's tags", body = q::IdentityTags),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn add_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<TagBody>,
) -> ApiResult {
    tag_command(state, p, path.into_inner(), IdentityCommand::AddTag(body.0.tag)).await
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/tags/remove", tag = TAG, operation_id = "remove_identity_tag",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = TagBody,
    responses(
        (status = 200, description = "The identity's tags", body = q::IdentityTags),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn remove_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<TagBody>,
) -> ApiResult {
    tag_command(state, p, path.into_inner(), IdentityCommand::RemoveTag(body.0.tag)).await
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/tags", tag = TAG, operation_id = "set_identity_tags",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = TagsBody,
    responses(
        (status = 200, description = "The identity's tags", body = q::IdentityTags),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<TagsBody>,
) -> ApiResult {
    let tags = values::dedup_tags("tags", body.0.tags).map_err(|e| AppError::validation(&e.field, e.message))?;
    tag_command(state, p, path.into_inner(), IdentityCommand::SetTags(tags)).await
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/archive", tag = TAG, operation_id = "archive_identity",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses(
        (status = 200, description = "Archived (the status is unchanged)", body = q::ArchiveState),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn archive(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), path.into_inner(), IdentityCommand::Archive).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::archive_state(c, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/restore", tag = TAG, operation_id = "restore_identity",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses(
        (status = 200, description = "The restored identity", body = q::Identity),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn restore(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), path.into_inner(), IdentityCommand::Restore).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id)).await?))
}

#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn monitoring(state: web::Data<AppState>, p: Principal, id: IdentityRef, command: IdentityCommand) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), id, command).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::monitoring_state(c, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/monitoring/pause", tag = TAG, operation_id = "pause_identity_monitoring",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses(
        (status = 200, description = "Monitoring state", body = q::MonitoringState),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn pause(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    monitoring(state, p, path.into_inner(), IdentityCommand::PauseMonitoring).await
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/monitoring/resume", tag = TAG, operation_id = "resume_identity_monitoring",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses(
        (status = 200, description = "Monitoring state", body = q::MonitoringState),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn resume(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    monitoring(state, p, path.into_inner(), IdentityCommand::ResumeMonitoring).await
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/monitoring-history", tag = TAG,
    operation_id = "get_identity_monitoring_history",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref"),
        super::checks::HistoryQuery),
    responses((status = 200, description = "Each continuous-monitoring pass that screened the identity, newest \
        first: when, the watchlist version, open hits before and after, the new hits and the check holding them",
        body = crate::queries::OffsetPage<crate::queries::checks::MonitoringPassView>,
        example = json!({"data": [], "pagination": {"total": 0, "limit": 25, "offset": 0}}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn monitoring_history(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    query: ApiQuery<super::checks::HistoryQuery>,
) -> ApiResult {
    p.require(READ, &["checks:read"])?;
    let page = query.0.page()?;
    let env = p.env();
    Ok(Reply::ok(
        state.read(move |c| crate::queries::checks::identity_monitoring_history(c, &env, path.as_str(), page)).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/custom-fields", tag = TAG, operation_id = "get_identity_custom_fields",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses((status = 200, description = "Custom field values", body = q::IdentityCustomFields)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get_custom_fields(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    p.require(READ, &[])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::custom_fields_by_ref(c, &keyring, &env, path.as_str())).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldsBody {
    /// Values by field name: strings, numbers or booleans (as the identity type defines them); `null`
    /// deletes a value.
    #[schema(schema_with = custom_field_values_schema)]
    pub custom_fields: Map<String, Value>,
}

fn custom_field_values_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    values::schema_from(serde_json::json!({
        "type": "object",
        "additionalProperties": { "type": ["string", "number", "boolean", "null"] },
        "description": "Custom field values by name.",
    }))
}

#[utoipa::path(patch, path = "/api/v1/identities/{identity_id}/custom-fields", tag = TAG, operation_id = "set_identity_custom_fields",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = CustomFieldsBody,
    responses(
        (status = 200, description = "Custom field values", body = q::IdentityCustomFields),
        (status = 409, description = "The identity's state does not allow this (redacted, merged, already archived, ...)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_custom_fields(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<CustomFieldsBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let id =
        cmd::set_custom_fields(&state.writer, p.meta(state.now()), path.into_inner(), body.0.custom_fields).await?;
    let keyring = state.keyring.clone();
    Ok(Reply::ok(state.read(move |c| q::custom_fields_of(c, &keyring, &id)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    pub primary_identity_id: IdentityRef,
    pub secondary_identity_id: IdentityRef,
    /// Redact the secondary instead of marking it merged.
    #[serde(default)]
    pub redact_secondary: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeMultipleBody {
    pub primary_identity_id: IdentityRef,
    /// 1 to 100 identities.
    #[schema(min_items = 1, max_items = 100)]
    pub secondary_identity_ids: Vec<IdentityRef>,
    #[serde(default)]
    pub redact_secondary: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeMultipleResult {
    pub primary: q::Identity,
    pub merged_count: i64,
    pub merged_ids: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/identities/merge/preview", tag = TAG, operation_id = "preview_identity_merge",
    request_body = MergeBody,
    responses(
        (status = 200, description = "What the merge would do; nothing is written", body = q::MergePreview),
        (status = 404, description = "The primary or secondary identity does not exist", body = ErrorBody),
        (status = 409, description = "Both refer to the same identity", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn merge_preview(state: web::Data<AppState>, p: Principal, body: ApiBody<MergeBody>) -> ApiResult {
    p.require(READ, &[])?;
    let b = body.0;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let (primary, secondary) = (b.primary_identity_id, b.secondary_identity_id);
    Ok(Reply::ok(
        state
            .read(move |c| {
                q::merge_preview(c, &keyring, &env, primary.as_str(), secondary.as_str(), b.redact_secondary)
            })
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/identities/merge", tag = TAG, operation_id = "merge_identities",
    request_body = MergeBody,
    responses(
        (status = 200, description = "Both identities after the merge", body = q::MergeResult),
        (status = 404, description = "The primary or secondary identity does not exist", body = ErrorBody),
        (status = 409, description = "Both refer to the same identity", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn merge(state: web::Data<AppState>, p: Principal, body: ApiBody<MergeBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let options = MergeOptions { redact_secondary: b.redact_secondary };
    let (primary, merged) =
        cmd::merge(&state.writer, p.meta(state.now()), b.primary_identity_id, vec![b.secondary_identity_id], options)
            .await?;
    let secondary = merged.first().cloned().unwrap_or_default();
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::merge_result(c, &keyring, &env, &primary, &secondary)).await?))
}

#[utoipa::path(post, path = "/api/v1/identities/merge-multiple", tag = TAG, operation_id = "merge_multiple_identities",
    request_body = MergeMultipleBody,
    responses(
        (status = 200, description = "The primary after the merges", body = MergeMultipleResult),
        (status = 404, description = "The primary or a secondary identity does not exist", body = ErrorBody),
        (status = 409, description = "A secondary is the primary itself", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn merge_multiple(state: web::Data<AppState>, p: Principal, body: ApiBody<MergeMultipleBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    if b.secondary_identity_ids.is_empty() || b.secondary_identity_ids.len() > 100 {
        return Err(AppError::validation("secondary_identity_ids", "must list 1 to 100 identities"));
    }
    let options = MergeOptions { redact_secondary: b.redact_secondary };
    let (primary, merged) =
        cmd::merge(&state.writer, p.meta(state.now()), b.primary_identity_id, b.secondary_identity_ids, options)
            .await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let primary = state.read(move |c| q::get(c, &keyring, &env, &primary)).await?;
    Ok(Reply::ok(MergeMultipleResult { primary, merged_count: merged.len() as i64, merged_ids: merged }))
}

/// Where cross-session image matches come from.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    Selfie,
    DocumentFront,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImageMatchQuery {
    /// Minimum similarity, 0.1 to 1.0 (default 0.85).
    #[param(minimum = 0.1, maximum = 1.0)]
    threshold: Option<f64>,
    source_type: Option<ImageSource>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/image-matches", tag = TAG, operation_id = "identity_image_matches",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref"), ImageMatchQuery),
    responses((status = 200, description = "Other identities with similar selfies or document photos", body = OffsetPage<q::ImageMatch>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn image_matches(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    query: ApiQuery<ImageMatchQuery>,
) -> ApiResult {
    p.require(READ, &[])?;
    let query = query.0;
    let threshold = match query.threshold {
        None => crate::checks::imagehash::DEFAULT_THRESHOLD,
        Some(v) if (0.1..=1.0).contains(&v) => v,
        Some(_) => return Err(AppError::validation("threshold", "must be a number from 0.1 to 1.0")),
    };
    let source = query.source_type.map(|s| match s {
        ImageSource::Selfie => "selfie",
        ImageSource::DocumentFront => "document_front",
    });
    let page = page_of(query.limit, query.offset, 20)?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::image_matches(c, &env, path.as_str(), threshold, source, page)).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        search,
        advanced_search,
        merge_preview,
        merge,
        merge_multiple,
        get,
        update,
        redact,
        export,
        audit_log,
        add_tag,
        remove_tag,
        set_tags,
        archive,
        restore,
        pause,
        resume,
        monitoring_history,
        get_custom_fields,
        set_custom_fields,
        image_matches
    ),
    components(schemas(ImageSource))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
