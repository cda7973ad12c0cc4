//! Closed vocabularies of the spec (statuses, kinds, versions) as enums: one macro so every one has the same
//! wire form, parsing, stored-value check and OpenAPI schema. Must not do I/O.

/// Declares a closed vocabulary of the spec as an enum: snake_case on the wire, `as_str`, and
/// `from_stored` for values read back from the views (an unknown stored value is a server error).
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),*
        }

        // Written out rather than derived: the derive cannot read a `rename` that arrives through a macro,
        // and would document the variant names instead of the values on the wire.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$(stringify!($doc)),*];
                let description = doc.first().map(|d| {
                    let d = d.trim_start_matches("doc =").trim();
                    d.strip_prefix('r').unwrap_or(d).trim_matches('"').trim().to_string()
                });
                $crate::domain::values::schema_from(serde_json::json!({
                    "type": "string", "enum": [$($text),*], "description": description,
                }))
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }

            pub fn from_stored(text: &str) -> Result<Self, $crate::error::AppError> {
                Self::parse(text).ok_or_else(|| {
                    $crate::error::AppError::Internal(format!("unknown stored {} '{text}'", stringify!($name)))
                })
            }

            /// Parses a value given for `field`; an unknown one is a 422 listing the allowed values.
            pub fn parse_field(field: &str, text: &str) -> Result<Self, $crate::error::AppError> {
                Self::parse(text).ok_or_else(|| {
                    $crate::error::AppError::validation(
                        field,
                        format!("must be one of: {}", [$($text),*].join(", ")),
                    )
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use vocabulary;
