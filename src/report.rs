//! The PDF report of a screening check (`GET /checks/{id}/report.pdf`): the check as the API shows it (its
//! subject, the lists and versions screened, each hit with its scores and explanation, each dismissal with
//! who, why and when), laid out as text on A4 pages in a base-14 font and written in memory with
//! `pdf-writer`, with no external service. Must not read the database or the clock (the caller passes the
//! check and the time).

use crate::queries::checks::{CheckView, HitView};
use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const SIZE: f32 = 9.5;
const LEADING: f32 = 13.0;
/// Characters per line at this size (Helvetica averages about half an em).
const WRAP: usize = 100;

/// Text as WinAnsi bytes for the base-14 font: Latin-1 as is, other scripts transliterated to ASCII.
fn win_ansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c as u32 {
            0x20..=0x7E | 0xA0..=0xFF => out.push(c as u32 as u8),
            0x09 | 0x0A | 0x0D => out.push(b' '),
            _ => out.extend(any_ascii::any_ascii_char(c).bytes().filter(|b| (0x20..=0x7E).contains(b))),
        }
    }
    out
}

/// Breaks a paragraph into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        while word.chars().count() > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The report's lines: (indent level, bold, text).
fn lines(check: &CheckView, generated_at: &str) -> Vec<(u8, bool, String)> {
    let mut out: Vec<(u8, bool, String)> = Vec::new();
    let mut put = |indent: u8, bold: bool, text: String| {
        for l in wrap(&text, WRAP - 4 * indent as usize) {
            out.push((indent, bold, l));
        }
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let score = |v: Option<f64>| v.map(|s| format!("{s:.2}")).unwrap_or_else(|| "-".into());
    put(0, true, "Screening check report".into());
    put(
        0,
        false,
        format!("Check {} | type {} | status {}", check.id, check.check_type.as_str(), check.status.as_str()),
    );
    put(
        0,
        false,
        format!(
            "Created {} | completed {} | {} | origin {} | report generated {}",
            check.created_at,
            opt(&check.completed_at),
            if check.is_sandbox { "sandbox" } else { "live" },
            match check.origin {
                crate::domain::check::CheckOrigin::Api => "api",
                crate::domain::check::CheckOrigin::Session => "session",
                crate::domain::check::CheckOrigin::Monitoring => "monitoring",
            },
            generated_at
        ),
    );
    put(
        0,
        false,
        format!(
            "Threshold {:.2} | runs {} | open hits {} | dismissed {} | provider {}",
            check.threshold,
            check.run_count,
            check.hit_count,
            check.dismissed_count,
            opt(&check.provider)
        ),
    );
    if let Some(reason) = &check.error_reason {
        put(0, false, format!("Not screened: {reason}"));
    }
    put(0, false, String::new());
    put(0, true, "Subject".into());
    match &check.subject {
        Some(s) => {
            let name = [s.name_first.as_deref(), s.name_last.as_deref()].into_iter().flatten().collect::<Vec<_>>();
            put(1, false, format!("Name: {}", if name.is_empty() { "-".into() } else { name.join(" ") }));
            put(1, false, format!("Birth date: {}", opt(&s.birthdate)));
            put(1, false, format!("Country: {}", opt(&s.country_code)));
        }
        None => put(1, false, format!("Erased (redacted {})", opt(&check.redacted_at))),
    }
    put(1, false, format!("External reference: {}", opt(&check.external_ref)));
    if let Some(identity) = &check.identity_id {
        put(1, false, format!("Identity: {identity}"));
    }
    put(0, false, String::new());
    put(0, true, "Lists screened".into());
    if check.list_versions.is_empty() {
        put(1, false, "None".into());
    }
    for v in &check.list_versions {
        put(
            1,
            false,
            format!(
                "{}: version {} | published {} | {} entries | imported {}",
                v.watchlist_id,
                v.version_id,
                opt(&v.published),
                v.entry_count,
                v.imported_at
            ),
        );
    }
    put(0, false, String::new());
    put(0, true, format!("Hits ({})", check.hits.len()));
    if check.hits.is_empty() {
        put(1, false, "No hit at the threshold.".into());
    }
    for (i, h) in check.hits.iter().enumerate() {
        hit_lines(&mut put, i + 1, h, &score);
    }
    if !check.suppressed_hits.is_empty() {
        put(0, false, String::new());
        put(0, true, "Left out by earlier dismissals".into());
        for s in &check.suppressed_hits {
            put(
                1,
                false,
                format!(
                    "{} entry {} | dismissal {} (check {})",
                    s.watchlist_id, s.entry_id, s.dismissal_id, s.dismissed_in_check_id
                ),
            );
        }
    }
    out
}

fn hit_lines(put: &mut impl FnMut(u8, bool, String), n: usize, h: &HitView, score: &impl Fn(Option<f64>) -> String) {
    put(1, true, format!("{n}. {} ({}, {})", h.matched_name, h.matched_name_kind, h.entity_type));
    put(
        2,
        false,
        format!("List {} ({}) entry {} | list version {}", h.watchlist_id, h.source, h.entry_id, h.list_version_id),
    );
    put(
        2,
        false,
        format!(
            "Score {:.2} | name {} | date of birth {} | country {} | identifier {}",
            h.score,
            score(h.features.name),
            score(h.features.date_of_birth),
            score(h.features.country),
            score(h.features.identifier)
        ),
    );
    if let Some(e) = &h.explanation {
        put(2, false, format!("Why: {e}"));
    }
    if let Some(programs) = h.entry.get("programs").and_then(|p| p.as_array()).filter(|p| !p.is_empty()) {
        let names: Vec<&str> = programs.iter().filter_map(|p| p.as_str()).collect();
        put(2, false, format!("Programs: {}", names.join(", ")));
    }
    if h.is_dismissed {
        put(
            2,
            false,
            format!(
                "Dismissed {} by {}: {}",
                h.dismissed_at.as_deref().unwrap_or("-"),
                h.dismissed_by.as_deref().unwrap_or("-"),
                h.dismissed_reason.as_deref().unwrap_or("no reason given")
            ),
        );
    } else {
        put(2, false, "Open (not dismissed)".into());
    }
}

/// The report as PDF bytes.
pub fn check_pdf(check: &CheckView, generated_at: &str) -> Vec<u8> {
    let lines = lines(check, generated_at);
    let per_page = ((PAGE_HEIGHT - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[(u8, bool, String)]> = lines.chunks(per_page.max(1)).collect();
    let mut pdf = Pdf::new();
    let (catalog, tree, regular, bold) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let page_ref = |i: usize| Ref::new(5 + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(6 + 2 * i as i32);
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids((0..pages.len()).map(page_ref)).count(pages.len() as i32);
    for (font, name) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(font).base_font(Name(name.as_bytes())).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (i, chunk) in pages.iter().enumerate() {
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_ref(i));
        {
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Name(b"F1"), regular);
            fonts.pair(Name(b"F2"), bold);
        }
        drop(page);
        let mut content = Content::new();
        content.begin_text();
        let mut y = PAGE_HEIGHT - MARGIN;
        for (indent, is_bold, text) in chunk.iter() {
            let font = if *is_bold { Name(b"F2") } else { Name(b"F1") };
            content.set_font(font, SIZE);
            content.set_text_matrix([1.0, 0.0, 0.0, 1.0, MARGIN + 14.0 * f32::from(*indent), y]);
            content.show(Str(&win_ansi(text)));
            y -= LEADING;
        }
        content.set_font(Name(b"F1"), 8.0);
        content.set_text_matrix([1.0, 0.0, 0.0, 1.0, MARGIN, MARGIN / 2.0]);
        content.show(Str(format!("Page {} of {}", i + 1, pages.len()).as_bytes()));
        content.end_text();
        pdf.stream(content_ref(i), &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_wrapped_and_encoded_for_the_base_font() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap(&"x".repeat(9), 4), vec!["xxxx", "xxxx", "x"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(win_ansi("Müller"), b"M\xfcller".to_vec());
        assert_eq!(win_ansi("Путин"), b"Putin".to_vec());
    }
}
