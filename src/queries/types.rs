//! Identity type and custom field definition reads. Must not write.

use super::{OffsetPage, Page};
use crate::domain::identity_type::FieldType;
use crate::domain::ids::{CustomFieldId, IdentityTypeId};
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use utoipa::ToSchema;

/// An identity type (spec §1.6.17): a kind of identity with its own statuses and custom fields.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdentityTypeView {
    pub id: IdentityTypeId,
    #[schema(example = "org_default")]
    pub org_id: String,
    #[schema(example = "business")]
    pub name: String,
    #[schema(example = "Business")]
    pub label: String,
    pub description: Option<String>,
    /// Custom statuses identities of this type may take, besides the lifecycle statuses.
    pub statuses: Vec<String>,
    /// The status new identities of this type start in (null: `pending`).
    pub default_status: Option<String>,
    /// Identities created without a type get this one.
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A custom field definition of an identity type (spec §1.6.18).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomFieldView {
    pub id: CustomFieldId,
    #[schema(example = "org_default")]
    pub org_id: String,
    pub identity_type_id: IdentityTypeId,
    /// The key under `custom_fields` on identities.
    #[schema(example = "tier")]
    pub name: String,
    #[schema(example = "Tier")]
    pub label: String,
    pub field_type: FieldType,
    pub is_required: bool,
    pub is_unique: bool,
    /// Values are sealed at rest and cannot be searched or unique.
    pub is_encrypted: bool,
    /// The allowed values of an `enum` field.
    pub enum_values: Option<Vec<String>>,
    pub validation_regex: Option<String>,
    pub sort_order: i64,
    pub created_at: String,
    pub updated_at: String,
}

const TYPE_COLUMNS: &str = "id, name, label, description, statuses, default_status, is_default, created_at, updated_at";

fn render_type(r: &rusqlite::Row<'_>) -> rusqlite::Result<IdentityTypeView> {
    let statuses: String = r.get(4)?;
    Ok(IdentityTypeView {
        id: IdentityTypeId::from_stored(r.get(0)?),
        org_id: "org_default".into(),
        name: r.get(1)?,
        label: r.get(2)?,
        description: r.get(3)?,
        statuses: serde_json::from_str(&statuses).unwrap_or_default(),
        default_status: r.get(5)?,
        is_default: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

pub fn list_types(conn: &ReadOnly, environment: &str, page: Page) -> AppResult<OffsetPage<IdentityTypeView>> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM identity_types WHERE environment = ?1 AND is_deleted = 0",
        [environment],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TYPE_COLUMNS} FROM identity_types WHERE environment = ?1 AND is_deleted = 0 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let data =
        stmt.query_map(params![environment, page.limit, page.offset], render_type)?.collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

pub fn get_type(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<IdentityTypeView> {
    conn.query_row(
        &format!("SELECT {TYPE_COLUMNS} FROM identity_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0"),
        [id, environment],
        render_type,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Identity type"))
}

const FIELD_COLUMNS: &str = "id, identity_type_id, name, label, field_type, is_required, is_unique, is_encrypted,
    enum_values, validation_regex, sort_order, created_at, updated_at";

fn render_field(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomFieldView> {
    let enums: Option<String> = r.get(8)?;
    let field_type: String = r.get(4)?;
    Ok(CustomFieldView {
        id: CustomFieldId::from_stored(r.get(0)?),
        org_id: "org_default".into(),
        identity_type_id: IdentityTypeId::from_stored(r.get(1)?),
        name: r.get(2)?,
        label: r.get(3)?,
        field_type: FieldType::from_stored(&field_type),
        is_required: r.get(5)?,
        is_unique: r.get(6)?,
        is_encrypted: r.get(7)?,
        enum_values: enums.and_then(|e| serde_json::from_str(&e).ok()),
        validation_regex: r.get(9)?,
        sort_order: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// Every field of the type, by sort order then name, as one page.
pub fn list_fields(conn: &ReadOnly, type_id: &str) -> AppResult<OffsetPage<CustomFieldView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FIELD_COLUMNS} FROM custom_field_definitions WHERE identity_type_id = ?1 AND is_deleted = 0 ORDER BY sort_order, name"
    ))?;
    let data = stmt.query_map([type_id], render_field)?.collect::<Result<Vec<_>, _>>()?;
    let total = data.len() as i64;
    Ok(OffsetPage::new(data, total, Page { limit: total.max(1), offset: 0 }))
}

pub fn get_field(conn: &ReadOnly, type_id: &str, field_id: &str) -> AppResult<CustomFieldView> {
    conn.query_row(
        &format!("SELECT {FIELD_COLUMNS} FROM custom_field_definitions WHERE id = ?1 AND identity_type_id = ?2 AND is_deleted = 0"),
        [field_id, type_id],
        render_field,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Custom field"))
}

/// The fields of a type of this environment (404 for another environment's type).
pub fn fields_of_type(conn: &ReadOnly, environment: &str, type_id: &str) -> AppResult<OffsetPage<CustomFieldView>> {
    get_type(conn, environment, type_id)?;
    list_fields(conn, type_id)
}

/// One field of a type of this environment (404 for another environment's type).
pub fn field_of_type(conn: &ReadOnly, environment: &str, type_id: &str, field_id: &str) -> AppResult<CustomFieldView> {
    get_type(conn, environment, type_id)?;
    get_field(conn, type_id, field_id)
}
