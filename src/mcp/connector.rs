//! The connector-style `search` and `fetch` tools (the shape ChatGPT connectors and deep-research clients
//! call): which REST reads answer them, and how their (already PII-free) answers become
//! `{results: [{id, title, url}]}` and `{id, title, text, url, metadata}`. Must not run the reads itself.

use crate::domain::ids;
use serde_json::{json, Value};

/// One kind of object search and fetch know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub noun: &'static str,
    prefix: &'static str,
    collection: &'static str,
    /// The scopes of which the key must hold one for this kind to be searched or fetched.
    scopes: &'static [&'static str],
    /// Searched by `GET <collection>?q=`.
    searchable: bool,
}

const KINDS: &[Kind] = &[
    Kind {
        noun: "session",
        prefix: ids::SESSION,
        collection: "sessions",
        scopes: &["sessions:read"],
        searchable: true,
    },
    Kind {
        noun: "identity",
        prefix: ids::IDENTITY,
        collection: "identities",
        scopes: &["identities:read"],
        searchable: true,
    },
    Kind {
        noun: "case",
        prefix: ids::CASE,
        collection: "cases",
        scopes: &["cases:read", "cases:write"],
        searchable: true,
    },
    Kind {
        noun: "check",
        prefix: ids::CHECK,
        collection: "checks",
        scopes: &["checks:read", "checks:write"],
        searchable: false,
    },
];

impl Kind {
    fn allowed(&self, scopes: &[String]) -> bool {
        self.scopes.iter().any(|s| scopes.iter().any(|k| k == s))
    }

    /// The object's path under /api/v1.
    pub fn object_path(&self, id: &str) -> String {
        format!("/api/v1/{}/{}", self.collection, encode(id))
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The kind an id names by its prefix (`ses_...` is a session).
pub fn kind_of(id: &str) -> Option<&'static Kind> {
    let (prefix, rest) = id.split_once('_')?;
    if rest.is_empty() {
        return None;
    }
    KINDS.iter().find(|k| k.prefix == prefix)
}

/// The reads that answer a search, each with the kind it lists: the object itself when the query is an id,
/// and `?q=` over every searchable kind the key may read.
pub fn search_reads(query: &str, scopes: &[String]) -> Vec<(&'static Kind, String)> {
    let query = query.trim();
    let mut out = Vec::new();
    if let Some(kind) = kind_of(query).filter(|k| k.allowed(scopes)) {
        out.push((kind, kind.object_path(query)));
    }
    for kind in KINDS.iter().filter(|k| k.searchable && k.allowed(scopes)) {
        out.push((kind, format!("/api/v1/{}?q={}&limit=10", kind.collection, encode(query))));
    }
    out
}

/// The read that answers a fetch, or why there is none.
pub fn fetch_read(id: &str, scopes: &[String]) -> Result<(&'static Kind, String), String> {
    let kind = kind_of(id.trim())
        .ok_or_else(|| format!("'{id}' is not an id fetch knows (ses_..., idn_..., case_... or schk_...)."))?;
    if !kind.allowed(scopes) {
        return Err(format!("Fetching a {} requires the '{}' scope on the API key.", kind.noun, kind.scopes[0]));
    }
    Ok((kind, kind.object_path(id.trim())))
}

fn title(kind: &Kind, obj: &Value) -> String {
    let id = obj["id"].as_str().unwrap_or_default();
    let mut parts = vec![format!("{} {id}", capitalised(kind.noun))];
    for field in ["status", "result_status", "priority"] {
        if let Some(v) = obj[field].as_str() {
            parts.push(format!("{field}: {v}"));
        }
    }
    if let Some(r) = obj["external_ref"].as_str() {
        parts.push(format!("ref: {r}"));
    }
    parts.join(", ")
}

fn capitalised(noun: &str) -> String {
    let mut c = noun.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

fn url(base: &str, kind: &Kind, id: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), kind.object_path(id))
}

/// The search answer from the reads' bodies (one object, or a page with `data`), each id once.
pub fn search_results(base: &str, answers: &[(&'static Kind, Value)]) -> Value {
    let mut seen = std::collections::BTreeSet::new();
    let mut results = Vec::new();
    for (kind, body) in answers {
        let items: Vec<&Value> = match body["data"].as_array() {
            Some(list) => list.iter().collect(),
            None if body["id"].is_string() => vec![body],
            None => vec![],
        };
        for obj in items {
            let Some(id) = obj["id"].as_str() else { continue };
            if seen.insert(id.to_string()) {
                results.push(json!({ "id": id, "title": title(kind, obj), "url": url(base, kind, id) }));
            }
        }
    }
    json!({ "results": results })
}

/// The fetch answer: the whole (PII-free) object as text, with its kind and status as metadata.
pub fn fetch_result(base: &str, kind: &Kind, id: &str, body: &Value) -> Value {
    json!({
        "id": id,
        "title": title(kind, body),
        "text": serde_json::to_string_pretty(body).unwrap_or_default(),
        "url": url(base, kind, id),
        "metadata": { "type": kind.noun, "status": body["status"] },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_kind_and_search_reads_follow_the_scopes() {
        assert_eq!(kind_of("ses_01ABC").unwrap().noun, "session");
        assert_eq!(kind_of("case_01ABC").unwrap().noun, "case");
        assert!(kind_of("ses_").is_none() && kind_of("nothing").is_none());
        let scopes = vec!["sessions:read".to_string()];
        let reads = search_reads("ses_01ABC", &scopes);
        assert_eq!(
            reads.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>(),
            vec!["/api/v1/sessions/ses_01ABC", "/api/v1/sessions?q=ses_01ABC&limit=10"]
        );
        assert!(fetch_read("idn_1", &scopes).unwrap_err().contains("identities:read"));
    }

    #[test]
    fn answers_have_the_connector_shape() {
        let kind = kind_of("ses_1").unwrap();
        let page = json!({ "data": [{ "id": "ses_1", "status": "approved" }, { "id": "ses_2", "status": "pending" }] });
        let one = json!({ "id": "ses_1", "status": "approved" });
        let out = search_results("http://h/", &[(kind, one.clone()), (kind, page)]);
        assert_eq!(out["results"].as_array().unwrap().len(), 2);
        assert_eq!(
            out["results"][0],
            json!({ "id": "ses_1", "title": "Session ses_1, status: approved",
            "url": "http://h/api/v1/sessions/ses_1" })
        );
        let f = fetch_result("http://h", kind, "ses_1", &one);
        assert_eq!(f["metadata"], json!({ "type": "session", "status": "approved" }));
        assert!(f["text"].as_str().unwrap().contains("\"approved\""));
    }
}
