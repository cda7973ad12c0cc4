//! The dependency rules of ARCHITECTURE.md section 2, checked on the source text: queries and domain
//! import nothing from the layers above them, http reaches storage and keys only through queries and
//! commands, and the store knows nothing of commands, queries or HTTP.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// `file:line: text` for every line of code (comments left out) under `dir` that names one of `forbidden`.
fn offences(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    out.push(format!("{}:{}: {} ({word})", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    out
}

fn assert_none(dir: &str, forbidden: &[&str]) {
    let found = offences(dir, forbidden);
    assert!(found.is_empty(), "{dir} must not use {forbidden:?}:\n{}", found.join("\n"));
}

#[test]
fn queries_import_nothing_from_commands_the_screening_service_or_http() {
    assert_none("src/queries", &["crate::commands", "crate::screening_service", "crate::http", "actix"]);
}

#[test]
fn domain_imports_nothing_of_the_outside_world() {
    assert_none(
        "src/domain",
        &[
            "rusqlite",
            "actix",
            "crate::store",
            "crate::queries",
            "crate::commands",
            "crate::http",
            "crate::crypto",
            "crate::screening_service",
        ],
    );
}

#[test]
fn http_reaches_storage_and_keys_only_through_queries_and_commands() {
    assert_none("src/http", &["rusqlite", "crate::store", "crate::crypto", "read.get()"]);
}

#[test]
fn the_store_knows_nothing_of_commands_queries_or_http() {
    assert_none("src/store", &["crate::commands", "crate::queries", "crate::http", "actix"]);
}

#[test]
fn the_screening_library_stays_pure() {
    assert_none("src/screening", &["rusqlite", "actix", "crate::store", "crate::screening_service", "crate::commands"]);
}

#[test]
fn the_check_finds_a_forbidden_import() {
    let found = offences("tests", &["crate::commands", "rusqlite"]);
    assert!(!found.is_empty(), "the scanner must see this file's own forbidden words");
}

#[test]
fn the_mcp_module_runs_nothing_itself() {
    assert_none("src/mcp", &["rusqlite", "crate::store", "crate::crypto", "crate::commands", "actix"]);
}
