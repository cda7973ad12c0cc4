//! Pure types and rules: id newtypes, validated values, and one module per aggregate with its commands,
//! events, state and `decide`. Must not import actix, rusqlite, the clock or a random source: time and new
//! ids arrive through `Ctx`.

pub mod api_key;
pub mod case;
pub mod check;
pub mod codec;
pub mod custom_list;
pub mod document;
pub mod document_type;
pub mod finding;
pub mod identity;
pub mod identity_type;
pub mod ids;
pub mod mcp;
pub mod relationship;
pub mod session;
pub mod settings;
pub mod user;
pub mod values;
pub mod verifyhq;
pub mod vocabulary;
pub mod watchlist;
pub mod webhook;
pub mod workflow;
pub mod workflow_run;

/// What a decision may know about the outside world, handed in by the command layer.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// RFC 3339 UTC timestamp of this command.
    pub now: String,
    pub environment: String,
}

/// Serde support for PATCH semantics: absent (`None`) vs explicit null (`Some(None)`) vs a value.
/// Use with `#[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]`.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
