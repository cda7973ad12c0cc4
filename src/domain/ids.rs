//! Prefixed ULID identifiers: one newtype per kind (`IdentityId` is `idn_<ULID>`, ...), parsed once at the
//! boundary and carried as that type into commands and queries. Generation belongs to the command layer
//! (it owns randomness) through `new`/`new_id`. The schema of each id (string with its prefix pattern) is
//! declared here so the OpenAPI document and the parser cannot disagree. Must not do I/O.

use crate::error::FieldError;
use std::borrow::Cow;
use utoipa::openapi::{RefOr, Schema};

/// Makes a new id with a prefix, e.g. `idn_01J...`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// True when `text` is `<prefix>_<ULID>`.
pub fn is_id(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .map(|u| u.len() == 26 && ulid::Ulid::from_string(u).is_ok())
        .unwrap_or(false)
}

pub const IDENTITY: &str = "idn";
pub const RELATIONSHIP: &str = "idrel";
pub const RELATIONSHIP_TYPE: &str = "crel";
pub const IDENTITY_TYPE: &str = "idtype";
pub const CUSTOM_FIELD: &str = "cfield";
pub const API_KEY: &str = "key";
pub const SESSION: &str = "ses";
pub const CAPTURE_LINK: &str = "link";
pub const BLOB: &str = "blob";
pub const WORKFLOW: &str = "wfl";
/// A drafted workflow version; its ULID is the one of the event that drafted it.
pub const WORKFLOW_DRAFT: &str = "wfd";
pub const CASE: &str = "case";
pub const CHECK: &str = "schk";
pub const CHECK_HIT: &str = "hit";
pub const CHECK_BATCH: &str = "batch";
pub const DISMISSAL: &str = "dsm";
pub const WATCHLIST_VERSION: &str = "wlv";
pub const LIST: &str = "list";
pub const LIST_ITEM: &str = "litem";
pub const LIST_MATCH: &str = "lmatch";
pub const WEBHOOK_ENDPOINT: &str = "webhook";
pub const WEBHOOK_DELIVERY: &str = "dlv";
pub const ORG_USER: &str = "orguser";
/// A dashboard login session of an org user (named in the log; its token is never stored).
pub const LOGIN_SESSION: &str = "lgs";
pub const EVENT: &str = "evt";
pub const DOCUMENT: &str = "doc";
pub const DOCUMENT_TYPE: &str = "dtype";
pub const DOCUMENT_GROUP: &str = "dgroup";
pub const DOCUMENT_EXTRACTION: &str = "dext";
pub const FINDING: &str = "fnd";

/// The OpenAPI schema of an id with `prefix`: a string `<prefix>_` + 26 Crockford base-32 characters.
pub fn id_schema(prefix: &str, what: &str) -> RefOr<Schema> {
    let example = format!("{prefix}_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C");
    let schema = serde_json::json!({
        "type": "string",
        "pattern": format!("^{prefix}_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{26}}$"),
        "minLength": prefix.len() + 27,
        "maxLength": prefix.len() + 27,
        "description": format!("{what} id: `{prefix}_` followed by a ULID."),
        "examples": [example],
    });
    RefOr::T(serde_json::from_value(schema).expect("id schema is a valid schema"))
}

/// Declares an id newtype with its prefix: `parse`, `new`, `as_str`, `Display`, serde as a plain string
/// (deserialising validates), and its OpenAPI schema.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id (command layer only: it owns randomness). No `Default`: a default id would be random.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                $name(new_id($prefix))
            }

            /// Accepts exactly `<prefix>_<ULID>`.
            pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
                let t = text.trim();
                if is_id($prefix, t) {
                    Ok($name(t.to_string()))
                } else {
                    Err(FieldError::new(field, format!("must be a {} id ({}_...)", $what, $prefix)))
                }
            }

            /// Wraps an id read back from the store (already validated when it was written).
            pub fn from_stored(text: String) -> Self {
                $name(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        super::values::string_newtype_impls!($name);

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                id_schema($prefix, $what)
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

id_type!(IdentityId, IDENTITY, "identity");
id_type!(RelationshipId, RELATIONSHIP, "relationship");
id_type!(RelationshipTypeId, RELATIONSHIP_TYPE, "relationship type");
id_type!(IdentityTypeId, IDENTITY_TYPE, "identity type");
id_type!(CustomFieldId, CUSTOM_FIELD, "custom field");
id_type!(ApiKeyId, API_KEY, "API key");
id_type!(SessionId, SESSION, "session");
id_type!(CaptureLinkId, CAPTURE_LINK, "one-time link");
id_type!(WorkflowId, WORKFLOW, "workflow");
id_type!(WorkflowDraftId, WORKFLOW_DRAFT, "workflow draft");
id_type!(CaseId, CASE, "case");
id_type!(OrgUserId, ORG_USER, "org user");
id_type!(EventId, EVENT, "event");
id_type!(CheckId, CHECK, "check");
id_type!(CheckHitId, CHECK_HIT, "hit");
id_type!(CheckBatchId, CHECK_BATCH, "check batch");
id_type!(WatchlistVersionId, WATCHLIST_VERSION, "watchlist version");
id_type!(ListId, LIST, "list");
id_type!(ListItemId, LIST_ITEM, "list item");
id_type!(ListMatchId, LIST_MATCH, "list match");
id_type!(DismissalId, DISMISSAL, "dismissal");
id_type!(WebhookEndpointId, WEBHOOK_ENDPOINT, "webhook endpoint");
id_type!(WebhookDeliveryId, WEBHOOK_DELIVERY, "webhook delivery");
id_type!(DocumentId, DOCUMENT, "document");
id_type!(DocumentTypeId, DOCUMENT_TYPE, "document type");
id_type!(DocumentGroupId, DOCUMENT_GROUP, "document group");
id_type!(ExtractionId, DOCUMENT_EXTRACTION, "document extraction");
id_type!(FindingId, FINDING, "finding");

impl WorkflowDraftId {
    /// The draft id of the version an event drafted: `wfd_` and the event id's ULID, so every drafted
    /// version, older ones included, has one id that a replay gives back.
    pub fn of_event(event_id: &str) -> Self {
        let ulid = event_id.split_once('_').map(|(_, u)| u).unwrap_or(event_id);
        WorkflowDraftId(format!("{WORKFLOW_DRAFT}_{ulid}"))
    }
}

/// An identity named in a path or body: its `idn_` id or the integrator's `external_ref` (spec §2.9).
/// Which one it is is decided here; resolving it to a stored identity is the query layer's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRef {
    Id(IdentityId),
    ExternalRef(super::values::ExternalRef),
}

impl IdentityRef {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        match IdentityId::parse(field, text) {
            Ok(id) => Ok(IdentityRef::Id(id)),
            Err(_) => super::values::ExternalRef::parse(field, text).map(IdentityRef::ExternalRef),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            IdentityRef::Id(id) => id.as_str(),
            IdentityRef::ExternalRef(r) => r.as_str(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for IdentityRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        IdentityRef::parse("", &text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl utoipa::PartialSchema for IdentityRef {
    fn schema() -> RefOr<Schema> {
        // An id is also a valid external_ref as text, so the external_ref's rules describe both.
        <super::values::ExternalRef as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for IdentityRef {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IdentityRef")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_with_their_prefix() {
        let id = IdentityId::new();
        assert!(IdentityId::parse("id", id.as_str()).is_ok());
        assert!(SessionId::parse("id", id.as_str()).is_err());
        assert!(IdentityId::parse("id", "idn_123").is_err());
        let back: IdentityId = serde_json::from_value(serde_json::json!(id.as_str())).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_value::<IdentityId>(serde_json::json!("ses_x")).is_err());
    }

    #[test]
    fn identity_refs_tell_ids_from_external_refs() {
        let id = IdentityId::new();
        assert!(matches!(IdentityRef::parse("i", id.as_str()), Ok(IdentityRef::Id(_))));
        assert!(matches!(IdentityRef::parse("i", "user-1"), Ok(IdentityRef::ExternalRef(_))));
        assert!(IdentityRef::parse("i", "a/b").is_err());
    }
}
