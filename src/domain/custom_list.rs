//! Custom lists (spec §1.10): list types and match modes, the list aggregate (state, commands, events,
//! `decide`), item value validation into a canonical value plus its exact-lookup keys, the subject-side
//! lookup probes, the matchers that need an opened value (fuzzy name plus exact date of birth,
//! geo-radius, face cosine), CSV rows, and match records. Item values arrive here in plaintext for
//! validation and leave as canonical values; sealing, hashing and normalising for blind digests belong to
//! the command layer. Must not read the database, seal, hash or know about HTTP.

use crate::error::{AppError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Items per bulk request or CSV import (spec §1.10.5).
pub const MAX_BATCH: usize = 1000;
/// Fuzzy name score (0..=1, the screening scorer) from which a name item matches: the scorer's own
/// pair-match threshold (the decision it is measured at on name_bench); the date of birth, when the item
/// has one, must also be equal.
pub const NAME_THRESHOLD: f64 = crate::screening::PAIR_MATCH_THRESHOLD;
/// Cosine similarity from which a face item matches.
pub const FACE_THRESHOLD: f64 = 0.8;
pub const MAX_NOTES: usize = 1000;
const MAX_EMBEDDING: usize = 4096;
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Half the Earth's circumference: a larger radius covers everything.
const MAX_RADIUS_M: f64 = 20_037_509.0;

pub const MATCH_MODES: &[&str] = &["block", "flag", "allow"];

/// What a match on the list means for a verification: `block` fails it, `flag` sends it to review,
/// `allow` marks it trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    Block,
    #[default]
    Flag,
    Allow,
}

impl MatchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Block => "block",
            MatchMode::Flag => "flag",
            MatchMode::Allow => "allow",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [MatchMode::Block, MatchMode::Flag, MatchMode::Allow].into_iter().find(|m| m.as_str() == text)
    }
}

/// The outcome of a set of matches (see `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Blocked,
    Flagged,
    Allowed,
    Clear,
}

impl Outcome {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "blocked" => Some(Outcome::Blocked),
            "flagged" => Some(Outcome::Flagged),
            "allowed" => Some(Outcome::Allowed),
            "clear" => Some(Outcome::Clear),
            _ => None,
        }
    }
}

/// The AAD field of one sealed part (`value`, `notes`, `digests`) of one item, under the list's data key
/// (the list id is the subject): a ciphertext cannot move to another item or part.
pub fn sealed_field(item_id: &str, part: &str) -> String {
    format!("item:{item_id}:{part}")
}

/// What a list holds; decides the keys of an item's `value` and how it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListType {
    Name,
    Email,
    Phone,
    IpAddress,
    GovernmentId,
    Country,
    Geolocation,
    BrowserFingerprint,
    DeviceFingerprint,
    Face,
    #[serde(rename = "string")]
    Str,
}

impl ListType {
    pub const ALL: [ListType; 11] = [
        ListType::Name,
        ListType::Email,
        ListType::Phone,
        ListType::IpAddress,
        ListType::GovernmentId,
        ListType::Country,
        ListType::Geolocation,
        ListType::BrowserFingerprint,
        ListType::DeviceFingerprint,
        ListType::Face,
        ListType::Str,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ListType::Name => "name",
            ListType::Email => "email",
            ListType::Phone => "phone",
            ListType::IpAddress => "ip_address",
            ListType::GovernmentId => "government_id",
            ListType::Country => "country",
            ListType::Geolocation => "geolocation",
            ListType::BrowserFingerprint => "browser_fingerprint",
            ListType::DeviceFingerprint => "device_fingerprint",
            ListType::Face => "face",
            ListType::Str => "string",
        }
    }

    /// The keys of an item's `value` (also the CSV columns), in display order.
    pub fn value_keys(self) -> &'static [&'static str] {
        match self {
            ListType::Name => &["first_name", "last_name", "date_of_birth"],
            ListType::Email => &["email", "match_domain_only"],
            ListType::Phone => &["phone"],
            ListType::IpAddress => &["ip"],
            ListType::GovernmentId => &["id_number", "id_class"],
            ListType::Country => &["country_code"],
            ListType::Geolocation => &["latitude", "longitude", "radius_meters"],
            ListType::BrowserFingerprint | ListType::DeviceFingerprint => &["fingerprint_hash"],
            ListType::Face => &["embedding", "image_url"],
            ListType::Str => &["value"],
        }
    }

    /// Types matched on the opened value (fuzzy, radius, similarity) rather than by a digest alone.
    pub fn opens_values(self) -> bool {
        matches!(self, ListType::Name | ListType::Geolocation | ListType::Face)
    }

    fn names() -> String {
        Self::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
    }
}

pub fn parse_list_type(text: &str) -> Result<ListType, AppError> {
    ListType::parse(text)
        .ok_or_else(|| AppError::validation("list_type", format!("must be one of {}", ListType::names())))
}

pub fn check_match_mode(mode: &str) -> Result<(), AppError> {
    if MATCH_MODES.contains(&mode) {
        Ok(())
    } else {
        Err(AppError::validation("match_mode", "must be block, flag or allow"))
    }
}

fn check_name(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(AppError::validation("name", "must be 1 to 200 printable characters"));
    }
    Ok(n.to_string())
}

fn check_description(d: &Option<String>) -> Result<(), AppError> {
    if d.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Err(AppError::validation("description", "must be at most 1000 characters"));
    }
    Ok(())
}

pub fn check_notes(field: &str, notes: &Option<String>) -> Result<(), FieldError> {
    match notes {
        Some(n) if n.chars().count() > MAX_NOTES => {
            Err(FieldError::new(field, format!("must be at most {MAX_NOTES} characters")))
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Events

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListCreated {
    pub name: String,
    pub list_type: String,
    pub match_mode: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ListUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

impl ListUpdated {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.match_mode.is_none() && self.is_active.is_none()
    }
}

/// One item, sealed by the command layer: `value`, `notes` and `digests` are base64 ciphertexts under
/// the list's data key, bound to the list and the item; `scan` marks an item every check must open
/// (it has no exact lookup key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemAdded {
    pub item_id: String,
    pub value: String,
    pub notes: Option<String>,
    pub digests: String,
    pub scan: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemDeleted {
    pub item_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ListEvent {
    Created(ListCreated),
    Updated(ListUpdated),
    Archived,
    ItemAdded(ItemAdded),
    ItemDeleted(ItemDeleted),
}

impl ListEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            ListEvent::Created(_) => "CustomListCreated",
            ListEvent::Updated(_) => "CustomListUpdated",
            ListEvent::Archived => "CustomListArchived",
            ListEvent::ItemAdded(_) => "CustomListItemAdded",
            ListEvent::ItemDeleted(_) => "CustomListItemDeleted",
        }
    }

    pub fn payload(&self) -> Value {
        let v = match self {
            ListEvent::Created(e) => serde_json::to_value(e),
            ListEvent::Updated(e) => serde_json::to_value(e),
            ListEvent::Archived => Ok(json!({})),
            ListEvent::ItemAdded(e) => serde_json::to_value(e),
            ListEvent::ItemDeleted(e) => serde_json::to_value(e),
        };
        v.unwrap_or(Value::Null)
    }

    pub fn version(&self) -> i64 {
        LIST_EVENT_VERSION
    }

    /// Decodes a stored event, upcasting older versions. `None` for a type this module does not own; an
    /// unknown version or a payload that does not fit is an error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !event_type.starts_with("CustomList") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, LIST_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "CustomListCreated" => ListEvent::Created(codec::payload(event_type, p)?),
            "CustomListUpdated" => ListEvent::Updated(codec::payload(event_type, p)?),
            "CustomListArchived" => ListEvent::Archived,
            "CustomListItemAdded" => ListEvent::ItemAdded(codec::payload(event_type, p)?),
            "CustomListItemDeleted" => ListEvent::ItemDeleted(codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }
}

/// The newest version of every custom list and list match event.
pub const LIST_EVENT_VERSION: i64 = 1;

/// A match found during a verification, recorded on its own stream (the match id). Carries ids, the
/// field name and the score, never the matched value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatchRecorded {
    pub session_id: String,
    pub list_id: String,
    pub list_item_id: String,
    pub list_type: String,
    pub match_mode: String,
    pub score: f64,
    pub matched_field: String,
    #[serde(default)]
    pub details: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatchMarkedFalsePositive {
    pub reason: Option<String>,
}

/// Events of one list match's stream (the match id).
#[derive(Debug, Clone, PartialEq)]
pub enum MatchEvent {
    Recorded(MatchRecorded),
    MarkedFalsePositive(MatchMarkedFalsePositive),
}

impl MatchEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            MatchEvent::Recorded(_) => "ListMatchRecorded",
            MatchEvent::MarkedFalsePositive(_) => "ListMatchMarkedFalsePositive",
        }
    }

    pub fn version(&self) -> i64 {
        LIST_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let v = match self {
            MatchEvent::Recorded(e) => serde_json::to_value(e),
            MatchEvent::MarkedFalsePositive(e) => serde_json::to_value(e),
        };
        v.unwrap_or(Value::Null)
    }

    /// Decodes a stored event, upcasting older versions; `None` for a type this enum does not own.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !event_type.starts_with("ListMatch") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, LIST_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "ListMatchRecorded" => MatchEvent::Recorded(codec::payload(event_type, p)?),
            "ListMatchMarkedFalsePositive" => MatchEvent::MarkedFalsePositive(codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }
}

// ---------------------------------------------------------------------------------------------------------
// The list aggregate

#[derive(Debug, Clone)]
pub struct ListState {
    pub id: String,
    pub version: i64,
    pub list_type: ListType,
    pub match_mode: String,
    pub is_active: bool,
    pub archived: bool,
}

#[derive(Debug, Clone)]
pub enum ListCommand {
    Create(ListCreated),
    Update(ListUpdated),
    /// `referenced_by`: active workflows whose published graph names this list.
    Archive {
        referenced_by: Vec<String>,
    },
    AddItems(Vec<ItemAdded>),
    /// `exists`: the item is in this list.
    DeleteItem {
        item_id: String,
        exists: bool,
    },
}

fn ensure_open(state: &ListState) -> Result<(), AppError> {
    if state.archived {
        return Err(AppError::Conflict("This list is archived and can no longer be changed.".into()));
    }
    Ok(())
}

pub fn decide(state: Option<&ListState>, command: ListCommand) -> Result<Vec<ListEvent>, AppError> {
    match (state, command) {
        (None, ListCommand::Create(mut c)) => {
            c.name = check_name(&c.name)?;
            c.list_type = parse_list_type(&c.list_type)?.as_str().to_string();
            check_match_mode(&c.match_mode)?;
            check_description(&c.description)?;
            Ok(vec![ListEvent::Created(c)])
        }
        (Some(_), ListCommand::Create(_)) => Err(AppError::Conflict("This list already exists.".into())),
        (None, _) => Err(AppError::not_found("List")),
        (Some(s), ListCommand::Update(mut u)) => {
            ensure_open(s)?;
            if let Some(n) = &u.name {
                u.name = Some(check_name(n)?);
            }
            if let Some(m) = &u.match_mode {
                check_match_mode(m)?;
            }
            if let Some(d) = &u.description {
                check_description(d)?;
            }
            Ok(if u.is_empty() { Vec::new() } else { vec![ListEvent::Updated(u)] })
        }
        (Some(s), ListCommand::Archive { referenced_by }) => {
            if s.archived {
                return Ok(Vec::new());
            }
            if !referenced_by.is_empty() {
                return Err(AppError::Conflict(format!(
                    "This list is used by active workflows ({}); remove it from them or deactivate them first.",
                    referenced_by.join(", ")
                )));
            }
            Ok(vec![ListEvent::Archived])
        }
        (Some(s), ListCommand::AddItems(items)) => {
            ensure_open(s)?;
            if items.is_empty() {
                return Err(AppError::validation("items", "must contain at least one item"));
            }
            if items.len() > MAX_BATCH {
                return Err(AppError::validation("items", format!("at most {MAX_BATCH} items per request")));
            }
            Ok(items.into_iter().map(ListEvent::ItemAdded).collect())
        }
        (Some(s), ListCommand::DeleteItem { item_id, exists }) => {
            if !exists {
                return Err(AppError::not_found("List item"));
            }
            ensure_open(s)?;
            Ok(vec![ListEvent::ItemDeleted(ItemDeleted { item_id })])
        }
    }
}

/// Marking a match as a false positive; marking it again changes nothing.
pub fn decide_false_positive(
    already: bool,
    reason: Option<String>,
) -> Result<Option<MatchMarkedFalsePositive>, AppError> {
    check_notes("reason", &reason).map_err(|e| AppError::validation(&e.field, e.message))?;
    Ok((!already).then_some(MatchMarkedFalsePositive { reason }))
}

// ---------------------------------------------------------------------------------------------------------
// Item values and lookups

/// How a lookup value is normalised before its blind digest (the command layer maps each to
/// `crypto::blind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// trim only (hashes, canonical IPs, ISO codes, dates)
    Exact,
    /// trim, NFKC, lowercase, collapse whitespace
    Text,
    Email,
    /// digits only, last 10
    Phone,
    /// uppercase alphanumerics only
    AlnumUpper,
}

/// One exact-lookup key: digest kind, normaliser and the (canonical, not yet normalised) value.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub kind: &'static str,
    pub norm: Norm,
    pub value: String,
}

const K_DOB: &str = "list:date_of_birth";
const K_EMAIL: &str = "list:email";
const K_EMAIL_DOMAIN: &str = "list:email_domain";
const K_PHONE: &str = "list:phone";
const K_IP: &str = "list:ip";
const K_GOV_ID: &str = "list:government_id";
const K_COUNTRY: &str = "list:country";
const K_BROWSER: &str = "list:browser_fingerprint";
const K_DEVICE: &str = "list:device_fingerprint";
const K_STRING: &str = "list:string";

/// A validated item: its canonical value (what is sealed and shown back), its lookup keys, and whether
/// every check must open it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedItem {
    pub value: Map<String, Value>,
    pub lookups: Vec<Lookup>,
    pub scan: bool,
}

struct Reader<'a> {
    obj: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Reader<'_> {
    fn err(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(format!("value.{key}"), message));
    }

    /// A present, non-empty value as text (numbers accepted as their decimal text).
    fn raw(&self, key: &str) -> Option<String> {
        match self.obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    fn text(&mut self, key: &str, required: bool, max: usize) -> Option<String> {
        match self.obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.err(key, "is required");
                }
                None
            }
            Some(Value::String(s)) if !required && s.trim().is_empty() => None,
            Some(Value::String(s)) => match super::values::parse_text(key, s, max) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.err(key, e.message);
                    None
                }
            },
            Some(_) => {
                self.err(key, "must be a string");
                None
            }
        }
    }

    fn number(&mut self, key: &str, min: f64, max: f64) -> Option<f64> {
        let parsed = match self.obj.get(key) {
            None | Some(Value::Null) => {
                self.err(key, "is required");
                return None;
            }
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match parsed {
            Some(v) if v.is_finite() && v >= min && v <= max => Some(v),
            _ => {
                self.err(key, format!("must be a number from {min} to {max}"));
                None
            }
        }
    }

    fn flag(&mut self, key: &str) -> bool {
        match self.obj.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" | "false" | "0" | "no" => false,
                "true" | "1" | "yes" => true,
                _ => {
                    self.err(key, "must be true or false");
                    false
                }
            },
            Some(_) => {
                self.err(key, "must be true or false");
                false
            }
        }
    }
}

/// Parses a list of numbers given as a JSON array, or as text (`[0.1, 0.2]`, `0.1;0.2` or `0.1 0.2`).
pub fn parse_embedding(value: &Value) -> Option<Vec<f64>> {
    let numbers: Vec<f64> = match value {
        Value::Array(items) => items.iter().map(Value::as_f64).collect::<Option<_>>()?,
        Value::String(s) => {
            let t = s.trim().trim_start_matches('[').trim_end_matches(']');
            t.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(|p| p.parse::<f64>().ok())
                .collect::<Option<_>>()?
        }
        _ => return None,
    };
    let ok = (2..=MAX_EMBEDDING).contains(&numbers.len())
        && numbers.iter().all(|x| x.is_finite())
        && numbers.iter().any(|x| *x != 0.0);
    ok.then_some(numbers)
}

fn email_domain(text: &str) -> Option<String> {
    let d = text.trim().rsplit('@').next()?.trim().to_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && !d.starts_with('.')
        && !d.ends_with('.')
        && !d.chars().any(|c| c.is_whitespace() || c == '@');
    ok.then_some(d)
}

/// Validates one item `value` for a list type. Field errors are named `value.<key>`.
pub fn parse_item(t: ListType, raw: &Value, today: &str) -> Result<ParsedItem, Vec<FieldError>> {
    let Some(obj) = raw.as_object() else {
        return Err(vec![FieldError::new("value", "must be an object")]);
    };
    let mut r = Reader { obj, errors: Vec::new() };
    let keys = t.value_keys();
    for k in obj.keys() {
        if !keys.contains(&k.as_str()) {
            r.errors.push(FieldError::new(
                format!("value.{k}"),
                format!("is not a key of {} lists (expected {})", t.as_str(), keys.join(", ")),
            ));
        }
    }
    let mut value = Map::new();
    let mut lookups = Vec::new();
    let mut scan = false;
    let mut put = |k: &str, v: Value| {
        value.insert(k.to_string(), v);
    };
    match t {
        ListType::Name => {
            let first = r.text("first_name", true, 200);
            let last = r.text("last_name", true, 200);
            let dob = match r.raw("date_of_birth") {
                Some(d) => match super::values::parse_date_of_birth("date_of_birth", &d, today) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        r.err("date_of_birth", e.message);
                        None
                    }
                },
                None => None,
            };
            if let (Some(f), Some(l)) = (first, last) {
                put("first_name", json!(f));
                put("last_name", json!(l));
            }
            match dob {
                Some(d) => {
                    put("date_of_birth", json!(d));
                    lookups.push(Lookup { kind: K_DOB, norm: Norm::Exact, value: d });
                }
                // Without a date of birth every check compares the name.
                None => scan = true,
            }
        }
        ListType::Email => {
            let domain_only = r.flag("match_domain_only");
            if let Some(e) = r.text("email", true, 254) {
                if domain_only {
                    match email_domain(&e) {
                        Some(d) => {
                            put("email", json!(e));
                            lookups.push(Lookup { kind: K_EMAIL_DOMAIN, norm: Norm::Text, value: d });
                        }
                        None => r.err("email", "must be an email address or a domain"),
                    }
                } else {
                    match super::values::parse_email("email", &e) {
                        Ok(e) => {
                            put("email", json!(e));
                            lookups.push(Lookup { kind: K_EMAIL, norm: Norm::Email, value: e });
                        }
                        Err(err) => r.err("email", err.message),
                    }
                }
            }
            put("match_domain_only", json!(domain_only));
        }
        ListType::Phone => {
            if let Some(p) = r.text("phone", true, 40) {
                match super::values::parse_phone("phone", &p) {
                    Ok(p) => {
                        put("phone", json!(p));
                        lookups.push(Lookup { kind: K_PHONE, norm: Norm::Phone, value: p });
                    }
                    Err(e) => r.err("phone", e.message),
                }
            }
        }
        ListType::IpAddress => {
            if let Some(ip) = r.text("ip", true, 64) {
                match canonical_ip(&ip) {
                    Some(c) => {
                        put("ip", json!(c));
                        lookups.push(Lookup { kind: K_IP, norm: Norm::Exact, value: c });
                    }
                    None => r.err("ip", "must be an IPv4 or IPv6 address"),
                }
            }
        }
        ListType::GovernmentId => {
            let number = r.text("id_number", true, 100);
            let class = r.text("id_class", false, 50);
            if let Some(n) = number {
                if n.chars().any(char::is_alphanumeric) {
                    put("id_number", json!(n));
                    lookups.push(Lookup { kind: K_GOV_ID, norm: Norm::AlnumUpper, value: n });
                } else {
                    r.err("id_number", "must contain letters or digits");
                }
            }
            if let Some(c) = class {
                put("id_class", json!(c));
            }
        }
        ListType::Country => {
            if let Some(c) = r.text("country_code", true, 10) {
                match super::values::parse_country("country_code", &c) {
                    Ok(c) => {
                        put("country_code", json!(c));
                        lookups.push(Lookup { kind: K_COUNTRY, norm: Norm::Exact, value: c });
                    }
                    Err(e) => r.err("country_code", e.message),
                }
            }
        }
        ListType::Geolocation => {
            let lat = r.number("latitude", -90.0, 90.0);
            let lon = r.number("longitude", -180.0, 180.0);
            let radius = r.number("radius_meters", 0.0, MAX_RADIUS_M);
            if radius == Some(0.0) {
                r.err("radius_meters", "must be greater than 0");
            }
            if let (Some(a), Some(b), Some(c)) = (lat, lon, radius) {
                put("latitude", json!(a));
                put("longitude", json!(b));
                put("radius_meters", json!(c));
            }
            scan = true;
        }
        ListType::BrowserFingerprint | ListType::DeviceFingerprint => {
            if let Some(h) = r.text("fingerprint_hash", true, 512) {
                let kind = if t == ListType::BrowserFingerprint { K_BROWSER } else { K_DEVICE };
                put("fingerprint_hash", json!(h));
                lookups.push(Lookup { kind, norm: Norm::Exact, value: h });
            }
        }
        ListType::Face => {
            match obj.get("embedding") {
                None | Some(Value::Null) => r.err("embedding", "is required"),
                Some(e) => match parse_embedding(e) {
                    Some(v) => put("embedding", json!(v)),
                    None => r.err("embedding", format!("must be 2 to {MAX_EMBEDDING} finite numbers, not all zero")),
                },
            }
            if let Some(u) = r.text("image_url", false, 2048) {
                put("image_url", json!(u));
            }
            scan = true;
        }
        ListType::Str => {
            if let Some(v) = r.text("value", true, 500) {
                put("value", json!(v));
                lookups.push(Lookup { kind: K_STRING, norm: Norm::Text, value: v });
            }
        }
    }
    if r.errors.is_empty() {
        Ok(ParsedItem { value, lookups, scan })
    } else {
        Err(r.errors)
    }
}

fn canonical_ip(text: &str) -> Option<String> {
    text.trim().parse::<std::net::IpAddr>().ok().map(|ip| ip.to_canonical().to_string())
}

// ---------------------------------------------------------------------------------------------------------
// The subject side

/// What is checked: identity / session data names (`first_name`, `email`, `ip`, `document_number`,
/// `nationality`, ...) or the list value keys (`id_number`, `country_code`, `fingerprint_hash`, ...).
/// Structured values (an embedding) arrive as JSON text.
pub type Subject = BTreeMap<String, String>;

/// A subject lookup: which subject field it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub field: String,
    pub lookup: Lookup,
}

fn subject_get<'a>(s: &'a Subject, keys: &[&'static str]) -> Vec<(&'static str, &'a str)> {
    keys.iter().filter_map(|k| s.get(*k).map(|v| (*k, v.trim())).filter(|(_, v)| !v.is_empty())).collect()
}

/// The exact lookups a subject offers to lists of one type.
pub fn probes(t: ListType, s: &Subject) -> Vec<Probe> {
    let probe = |field: &str, kind: &'static str, norm: Norm, value: String| Probe {
        field: field.to_string(),
        lookup: Lookup { kind, norm, value },
    };
    let mut out = Vec::new();
    match t {
        ListType::Name => {
            for (f, v) in subject_get(s, &["date_of_birth"]) {
                out.push(probe(f, K_DOB, Norm::Exact, v.to_string()));
            }
        }
        ListType::Email => {
            for (f, v) in subject_get(s, &["email"]) {
                out.push(probe(f, K_EMAIL, Norm::Email, v.to_string()));
                if let Some(d) = v.contains('@').then(|| email_domain(v)).flatten() {
                    out.push(probe(f, K_EMAIL_DOMAIN, Norm::Text, d));
                }
            }
        }
        ListType::Phone => {
            for (f, v) in subject_get(s, &["phone", "phone_number"]) {
                if v.chars().filter(char::is_ascii_digit).count() >= 7 {
                    out.push(probe(f, K_PHONE, Norm::Phone, v.to_string()));
                }
            }
        }
        ListType::IpAddress => {
            for (f, v) in subject_get(s, &["ip", "ip_address"]) {
                if let Some(c) = canonical_ip(v) {
                    out.push(probe(f, K_IP, Norm::Exact, c));
                }
            }
        }
        ListType::GovernmentId => {
            for (f, v) in subject_get(s, &["document_number", "id_number", "ssn"]) {
                out.push(probe(f, K_GOV_ID, Norm::AlnumUpper, v.to_string()));
            }
        }
        ListType::Country => {
            for (f, v) in subject_get(s, &["country_code", "country", "nationality"]) {
                if let Ok(c) = super::values::parse_country(f, v) {
                    out.push(probe(f, K_COUNTRY, Norm::Exact, c));
                }
            }
        }
        ListType::BrowserFingerprint => {
            for (f, v) in subject_get(s, &["browser_fingerprint", "fingerprint_hash"]) {
                out.push(probe(f, K_BROWSER, Norm::Exact, v.to_string()));
            }
        }
        ListType::DeviceFingerprint => {
            for (f, v) in subject_get(s, &["device_fingerprint", "fingerprint_hash"]) {
                out.push(probe(f, K_DEVICE, Norm::Exact, v.to_string()));
            }
        }
        // A generic string list is compared with every subject field: it has no field of its own.
        ListType::Str => {
            for (f, v) in s.iter().filter(|(_, v)| !v.trim().is_empty() && v.chars().count() <= 500) {
                out.push(probe(f, K_STRING, Norm::Text, v.trim().to_string()));
            }
        }
        ListType::Geolocation | ListType::Face => {}
    }
    out.retain(|p| !p.lookup.value.is_empty());
    out
}

/// A match on an opened value.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub score: f64,
    pub matched_field: String,
    pub details: Map<String, Value>,
}

pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Decides a match for the types that compare the opened value (see `ListType::opens_values`).
/// `name_score` is the fuzzy name scorer (0..=1), injected so that this module stays pure.
pub fn verify(
    t: ListType,
    item: &Map<String, Value>,
    s: &Subject,
    name_score: &dyn Fn(&str, &str) -> f64,
) -> Option<Hit> {
    let text = |k: &str| item.get(k).and_then(Value::as_str);
    let num = |k: &str| item.get(k).and_then(Value::as_f64);
    match t {
        ListType::Name => {
            if let Some(dob) = text("date_of_birth") {
                if s.get("date_of_birth").map(|d| d.trim()) != Some(dob) {
                    return None;
                }
            }
            let subject_name = subject_full_name(s)?;
            let listed = format!("{} {}", text("first_name")?, text("last_name")?);
            let score = name_score(&subject_name, &listed);
            (score >= NAME_THRESHOLD).then(|| Hit {
                score: round4(score),
                matched_field: if text("date_of_birth").is_some() { "name,date_of_birth" } else { "name" }.into(),
                details: Map::new(),
            })
        }
        ListType::Geolocation => {
            let lat = s.get("latitude")?.trim().parse::<f64>().ok().filter(|v| (-90.0..=90.0).contains(v))?;
            let lon = s.get("longitude")?.trim().parse::<f64>().ok().filter(|v| (-180.0..=180.0).contains(v))?;
            let d = haversine_m(lat, lon, num("latitude")?, num("longitude")?);
            let radius = num("radius_meters")?;
            (d <= radius).then(|| {
                let mut details = Map::new();
                details.insert("distance_meters".into(), json!(d.round()));
                Hit { score: 1.0, matched_field: "latitude,longitude".into(), details }
            })
        }
        ListType::Face => {
            let (field, raw) = ["embedding", "face_embedding"].iter().find_map(|k| s.get(*k).map(|v| (*k, v)))?;
            let probe = parse_embedding(&serde_json::from_str::<Value>(raw).unwrap_or(Value::String(raw.clone())))?;
            let listed: Vec<f64> = item.get("embedding")?.as_array()?.iter().filter_map(Value::as_f64).collect();
            let sim = cosine(&probe, &listed)?;
            (sim >= FACE_THRESHOLD).then(|| Hit {
                score: round4(sim),
                matched_field: field.into(),
                details: Map::new(),
            })
        }
        _ => None,
    }
}

fn subject_full_name(s: &Subject) -> Option<String> {
    let parts: Vec<&str> = ["first_name", "middle_name", "last_name"]
        .iter()
        .filter_map(|k| s.get(*k).map(|v| v.trim()).filter(|v| !v.is_empty()))
        .collect();
    match parts.is_empty() {
        true => s.get("full_name").map(|v| v.trim().to_string()).filter(|v| !v.is_empty()),
        false => Some(parts.join(" ")),
    }
}

/// Great-circle distance in metres.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Cosine similarity of two vectors of the same length; None when they differ or one is zero.
pub fn cosine(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    (na > 0.0 && nb > 0.0).then(|| dot / (na * nb))
}

// ---------------------------------------------------------------------------------------------------------
// Matches and outcomes

/// One list item matching a subject (`POST /lists/check` and the workflow policy). Never holds a value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ListMatch {
    pub list_id: String,
    pub list_name: String,
    pub list_type: String,
    pub match_mode: String,
    pub list_item_id: String,
    pub score: f64,
    pub matched_field: String,
    pub details: Map<String, Value>,
}

/// The policy outcome of a set of (not false-positive) matches: a block match wins over a flag, a flag
/// over an allow.
pub fn outcome<'a>(modes: impl IntoIterator<Item = &'a str>) -> &'static str {
    let modes: Vec<&str> = modes.into_iter().collect();
    if modes.contains(&"block") {
        "blocked"
    } else if modes.contains(&"flag") {
        "flagged"
    } else if modes.contains(&"allow") {
        "allowed"
    } else {
        "clear"
    }
}

// ---------------------------------------------------------------------------------------------------------
// CSV import

/// Columns an import accepts besides the value keys (an export's extra columns, so it re-imports).
const CSV_EXTRA: &[&str] = &["notes", "id", "created_at"];

/// Parses a CSV file whose header row names value keys of the list type (plus `notes`); returns each
/// data row as an item `value` and its notes. Row errors are named `rows[i].<key>` (i from 0).
pub fn parse_csv(t: ListType, bytes: &[u8]) -> Result<Vec<(Value, Option<String>)>, AppError> {
    let text = std::str::from_utf8(bytes).map_err(|_| AppError::validation("file", "must be UTF-8 text"))?;
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::validation("file", format!("is not valid CSV: {e}")))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let keys = t.value_keys();
    if let Some(bad) = headers.iter().find(|h| !keys.contains(&h.as_str()) && !CSV_EXTRA.contains(&h.as_str())) {
        return Err(AppError::validation(
            "file",
            format!("unknown column '{bad}': {} lists take {}, notes", t.as_str(), keys.join(", ")),
        ));
    }
    if !headers.iter().any(|h| keys.contains(&h.as_str())) {
        return Err(AppError::validation("file", format!("the header row must name {}", keys.join(", "))));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i >= MAX_BATCH {
            return Err(AppError::validation("file", format!("at most {MAX_BATCH} rows per import")));
        }
        let record =
            record.map_err(|e| AppError::validation(&format!("rows[{i}]"), format!("is not valid CSV: {e}")))?;
        let mut value = Map::new();
        let mut notes = None;
        for (h, cell) in headers.iter().zip(record.iter()) {
            if cell.is_empty() {
                continue;
            }
            match h.as_str() {
                "notes" => notes = Some(cell.to_string()),
                "id" | "created_at" => {}
                key => {
                    value.insert(key.to_string(), Value::String(cell.to_string()));
                }
            }
        }
        rows.push((Value::Object(value), notes));
    }
    if rows.is_empty() {
        return Err(AppError::validation("file", "has no data rows"));
    }
    Ok(rows)
}

/// One CSV cell of an item value (the inverse of the import's cell reading).
pub fn csv_cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(pairs: &[(&str, &str)]) -> Subject {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn crude_name_score(a: &str, b: &str) -> f64 {
        if a.to_lowercase() == b.to_lowercase() {
            1.0
        } else {
            0.0
        }
    }

    #[test]
    fn item_values_are_validated_and_canonicalised_per_type() {
        let today = "2026-01-01";
        let p = parse_item(ListType::Email, &json!({"email": " A@Example.com "}), today).unwrap();
        assert_eq!(p.lookups, vec![Lookup { kind: K_EMAIL, norm: Norm::Email, value: "A@Example.com".into() }]);
        let p = parse_item(ListType::Email, &json!({"email": "@Spam.io", "match_domain_only": true}), today).unwrap();
        assert_eq!(p.lookups[0].value, "spam.io");
        assert_eq!(p.lookups[0].kind, K_EMAIL_DOMAIN);
        let e = parse_item(ListType::Email, &json!({"email": "nope"}), today).unwrap_err();
        assert_eq!(e[0].field, "value.email");
        let e = parse_item(ListType::Phone, &json!({"phone": "12", "extra": 1}), today).unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(
            parse_item(ListType::IpAddress, &json!({"ip": "::ffff:10.0.0.1"}), today).unwrap().value["ip"]
                == "10.0.0.1"
        );
        assert!(parse_item(ListType::Geolocation, &json!({"latitude": 91, "longitude": 0, "radius_meters": 5}), today)
            .is_err());
        let g = parse_item(
            ListType::Geolocation,
            &json!({"latitude": "52.5", "longitude": 13.4, "radius_meters": 500}),
            today,
        )
        .unwrap();
        assert!(g.scan && g.lookups.is_empty());
        let n = parse_item(ListType::Name, &json!({"first_name": "John", "last_name": "Smith"}), today).unwrap();
        assert!(n.scan, "a name without a date of birth is compared on every check");
        assert!(parse_item(
            ListType::Name,
            &json!({"first_name": "J", "last_name": "S", "date_of_birth": "2099-01-01"}),
            today
        )
        .is_err());
        assert!(parse_item(ListType::Face, &json!({"embedding": [0, 0, 0]}), today).is_err());
        assert!(parse_item(ListType::Face, &json!({"embedding": "[0.1, 0.2, 0.3]"}), today).is_ok());
        assert!(parse_item(ListType::Country, &json!({"country_code": "xx"}), today).is_err());
    }

    #[test]
    fn probes_follow_the_subject_field_names() {
        let s = subject(&[("email", "Bob@Evil.COM"), ("nationality", "de"), ("document_number", "ab-12 3")]);
        let kinds: Vec<&str> = probes(ListType::Email, &s).iter().map(|p| p.lookup.kind).collect();
        assert_eq!(kinds, vec![K_EMAIL, K_EMAIL_DOMAIN]);
        assert_eq!(probes(ListType::Email, &s)[1].lookup.value, "evil.com");
        assert_eq!(probes(ListType::Country, &s)[0].lookup.value, "DE");
        assert_eq!(probes(ListType::GovernmentId, &s)[0].field, "document_number");
        assert_eq!(probes(ListType::Str, &s).len(), 3);
    }

    #[test]
    fn opened_values_match_by_name_and_date_radius_and_similarity() {
        let item = json!({"first_name": "John", "last_name": "Smith", "date_of_birth": "1980-01-01"});
        let item = item.as_object().unwrap();
        let same = subject(&[("first_name", "john"), ("last_name", "smith"), ("date_of_birth", "1980-01-01")]);
        let other_dob = subject(&[("first_name", "john"), ("last_name", "smith"), ("date_of_birth", "1980-01-02")]);
        assert!(verify(ListType::Name, item, &same, &crude_name_score).is_some());
        assert!(verify(ListType::Name, item, &other_dob, &crude_name_score).is_none());

        let geo = json!({"latitude": 52.52, "longitude": 13.405, "radius_meters": 1000.0});
        let near = subject(&[("latitude", "52.521"), ("longitude", "13.41")]);
        let far = subject(&[("latitude", "48.85"), ("longitude", "2.35")]);
        assert!(verify(ListType::Geolocation, geo.as_object().unwrap(), &near, &crude_name_score).is_some());
        assert!(verify(ListType::Geolocation, geo.as_object().unwrap(), &far, &crude_name_score).is_none());

        let face = json!({"embedding": [1.0, 0.0, 0.0]});
        let close = subject(&[("embedding", "[0.9, 0.1, 0.0]")]);
        let apart = subject(&[("embedding", "[0.0, 1.0, 0.0]")]);
        assert!(verify(ListType::Face, face.as_object().unwrap(), &close, &crude_name_score).is_some());
        assert!(verify(ListType::Face, face.as_object().unwrap(), &apart, &crude_name_score).is_none());
        assert!((haversine_m(0.0, 0.0, 0.0, 1.0) - 111_195.0).abs() < 10.0);
    }

    #[test]
    fn block_wins_over_flag_and_flag_over_allow() {
        assert_eq!(outcome(["allow", "flag", "block"]), "blocked");
        assert_eq!(outcome(["allow", "flag"]), "flagged");
        assert_eq!(outcome(["allow"]), "allowed");
        assert_eq!(outcome([]), "clear");
    }

    #[test]
    fn archived_lists_refuse_changes_and_archiving_is_refused_while_referenced() {
        let s = ListState {
            id: "list_x".into(),
            version: 1,
            list_type: ListType::Email,
            match_mode: "flag".into(),
            is_active: true,
            archived: false,
        };
        assert!(decide(Some(&s), ListCommand::Archive { referenced_by: vec!["wfl_a".into()] }).is_err());
        assert_eq!(
            decide(Some(&s), ListCommand::Archive { referenced_by: vec![] }).unwrap(),
            vec![ListEvent::Archived]
        );
        let archived = ListState { archived: true, ..s };
        assert!(decide(
            Some(&archived),
            ListCommand::Update(ListUpdated { name: Some("x".into()), ..Default::default() })
        )
        .is_err());
        assert!(decide(Some(&archived), ListCommand::Archive { referenced_by: vec![] }).unwrap().is_empty());
    }

    #[test]
    fn csv_rows_become_item_values() {
        let rows = parse_csv(ListType::Email, b"email,match_domain_only,notes\na@b.co,,first\n,true,\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, json!({"email": "a@b.co"}));
        assert_eq!(rows[0].1.as_deref(), Some("first"));
        assert!(parse_csv(ListType::Email, b"mail\nx\n").is_err());
    }
}
