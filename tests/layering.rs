//! The dependency rules of ARCHITECTURE.md section 2, checked on the source text: queries and domain
//! import nothing from the layers above them, http reaches storage and keys only through queries and
//! commands, and the store knows nothing of commands, queries or HTTP. Also on the source text: every HTTP
//! handler opens a tracing span of its own (`#[tracing::instrument]`), inside the request's span that the
//! `observe` middleware opens with the request id, so a slow request's log names the handler and the key
//! it ran for. A handler is an `async fn` under `src/http` that takes the application state by value
//! (`web::Data<AppState>`, an extractor), which helpers (taking it by reference) do not.

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

fn is_async_fn(line: &str) -> bool {
    let line = line.trim_start();
    ["async fn ", "pub async fn ", "pub(crate) async fn ", "pub(super) async fn "].iter().any(|p| line.starts_with(p))
}

/// The signature from an `async fn` line to the line that opens its body.
fn signature(lines: &[&str], start: usize) -> String {
    let mut text = String::new();
    for line in &lines[start..] {
        text.push_str(line.split("//").next().unwrap_or(""));
        text.push(' ');
        if line.trim_end().ends_with('{') {
            break;
        }
    }
    text
}

/// The attribute and doc lines right above line `start`, up to the blank line or closing brace before them.
fn attributes<'a>(lines: &[&'a str], start: usize) -> Vec<&'a str> {
    lines[..start].iter().rev().take_while(|l| !l.trim().is_empty() && !l.starts_with('}')).copied().collect()
}

/// `file:line: fn name` of every handler under `src/http` without a span.
fn handlers_without_span() -> (usize, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let (mut handlers, mut missing) = (0, Vec::new());
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            if !is_async_fn(line) {
                continue;
            }
            let sig = signature(&lines, n);
            let takes_state = sig.contains("web::Data<AppState>") && !sig.contains("&web::Data<AppState>");
            if !takes_state {
                continue;
            }
            handlers += 1;
            if !attributes(&lines, n).iter().any(|a| a.contains("tracing::instrument")) {
                let name = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&file).display().to_string();
                missing.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    (handlers, missing)
}

#[test]
fn every_handler_opens_a_span() {
    let (handlers, missing) = handlers_without_span();
    // The scan itself must find the handlers, or an empty result would prove nothing.
    assert!(handlers > 200, "only {handlers} handlers found under src/http");
    assert!(missing.is_empty(), "handlers without #[tracing::instrument]:\n{}", missing.join("\n"));
}
