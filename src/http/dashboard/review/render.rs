//! The review pages' HTML: the queue and the case page, from the values `queries::case_page` returns.
//! Every value is escaped here; nothing is read or decided, and no inline script or style is written
//! (the CSP forbids them: classes from dashboard.css only).

use super::super::auth::Reviewer;
use super::super::layout::escape;
use super::{QueueView, PII_FIELDS};
use crate::domain::case::{CaseStatus, CaseTab};
use crate::queries::case_page::{CasePage, QueuePage, ReviewerNames};
use crate::queries::cases::CaseView;
use serde_json::Value;
use std::fmt::Write as _;

/// What the page says above its content.
pub enum Flash {
    /// The word of a redirect after a successful post (`?done=`).
    Done(String),
    /// A refused post's public detail.
    Refused(String),
}

/// `2026-01-15 10:00 UTC`.
fn when(ts: &str) -> String {
    match (ts.get(..10), ts.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => ts.to_string(),
    }
}

/// Time since `from`, as `3 h 12 min` or `2 d 4 h`.
fn age(from: &str, now: &str) -> String {
    let (Some(a), Some(b)) = (crate::clock::parse(from), crate::clock::parse(now)) else { return String::new() };
    let mins = (b - a).whole_minutes().max(0);
    match mins {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m / 60) % 24),
    }
}

fn who(names: &ReviewerNames, me: &Reviewer, id: &str) -> String {
    if id == me.user_id.as_str() {
        return "you".into();
    }
    match names.get(id) {
        Some(n) => escape(n),
        None => format!("<code>{}</code>", escape(id)),
    }
}

fn sla_badge(case: &CaseView) -> String {
    let label = match case.sla {
        "green" => "under 4 h",
        "yellow" => "4 to 24 h",
        _ => "24 h or more",
    };
    format!(
        "<span class=\"badge sla-{band}\" data-sla=\"{band}\" title=\"SLA: {label} in review\">{label}</span>",
        band = case.sla
    )
}

fn status_badge(status: &str) -> String {
    let s = escape(status);
    format!("<span class=\"badge {s}\" data-status=\"{s}\">{}</span>", s.replace('_', " "))
}

fn csrf_input(reviewer: &Reviewer) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(&reviewer.csrf))
}

fn tab_label(tab: CaseTab) -> &'static str {
    match tab {
        CaseTab::Unassigned => "Unassigned",
        CaseTab::Mine => "Mine",
        CaseTab::PendingSecondReview => "Second review",
        CaseTab::Escalated => "Escalated",
        CaseTab::All => "All",
    }
}

fn queue_flash(done: Option<&str>) -> String {
    match done {
        Some("empty") => "<p class=\"flash\" role=\"status\" id=\"flash\">The queue is empty: no unassigned case is \
                          waiting. Well done.</p>"
            .into(),
        _ => String::new(),
    }
}

fn queue_link(view: &QueueView, tab: CaseTab, offset: i64) -> String {
    let mut href = format!("/dashboard/cases?tab={}", tab.as_str());
    if let Some(s) = view.status {
        let _ = write!(href, "&amp;status={}", s.as_str());
    }
    if let Some(a) = &view.assigned {
        let _ = write!(href, "&amp;assigned={}", escape(a.as_str()));
    }
    if offset > 0 {
        let _ = write!(href, "&amp;offset={offset}");
    }
    href
}

pub fn queue(reviewer: &Reviewer, view: &QueueView, data: &QueuePage, now: &str) -> String {
    let c = &data.counts;
    let mut html = String::new();
    let _ = write!(
        html,
        "<div class=\"page-head\"><h1>Review queue</h1>\
         <form method=\"post\" action=\"/dashboard/cases/next\" class=\"inline\">{csrf}\
         <button type=\"submit\" class=\"primary\" id=\"claim-next\" data-shortcut=\"n\">Claim next case <kbd>n</kbd></button>\
         </form></div>{flash}",
        csrf = csrf_input(reviewer),
        flash = queue_flash(view.done.as_deref()),
    );
    html.push_str("<nav class=\"tabs\" aria-label=\"Queue tabs\">");
    for (tab, count) in [
        (CaseTab::Unassigned, c.unassigned),
        (CaseTab::Mine, c.mine),
        (CaseTab::PendingSecondReview, c.pending_second_review),
        (CaseTab::Escalated, c.escalated),
        (CaseTab::All, c.all),
    ] {
        let current = if tab == view.tab { " aria-current=\"page\"" } else { "" };
        let _ = write!(
            html,
            "<a href=\"{href}\"{current} data-tab=\"{name}\">{label}<span class=\"count\">{count}</span></a>",
            href = queue_link(view, tab, 0),
            name = tab.as_str(),
            label = tab_label(tab),
        );
    }
    html.push_str("</nav>");

    // Filters: a plain GET form, so the URL says what is shown.
    let mut status_opts = String::from("<option value=\"\">Any status</option>");
    for s in CaseStatus::ALL {
        let sel = if view.status == Some(*s) { " selected" } else { "" };
        let _ = write!(
            status_opts,
            "<option value=\"{v}\"{sel}>{l}</option>",
            v = s.as_str(),
            l = s.as_str().replace('_', " ")
        );
    }
    let mut assigned_opts = String::from("<option value=\"\">Anyone</option>");
    for (id, name) in &data.reviewers {
        let sel = if view.assigned.as_ref().is_some_and(|a| a.as_str() == id) { " selected" } else { "" };
        let label = if id == reviewer.user_id.as_str() { format!("{} (you)", escape(name)) } else { escape(name) };
        let _ = write!(assigned_opts, "<option value=\"{}\"{sel}>{label}</option>", escape(id));
    }
    let _ = write!(
        html,
        "<form class=\"toolbar filters\" method=\"get\" action=\"/dashboard/cases\">\
         <input type=\"hidden\" name=\"tab\" value=\"{tab}\">\
         <label for=\"f-status\">Status</label><select id=\"f-status\" name=\"status\">{status_opts}</select>\
         <label for=\"f-assigned\">Assigned to</label><select id=\"f-assigned\" name=\"assigned\">{assigned_opts}</select>\
         <button type=\"submit\">Filter</button></form>",
        tab = view.tab.as_str(),
    );

    if data.cases.data.is_empty() {
        html.push_str("<div class=\"card empty\" id=\"queue-empty\"><p class=\"muted\">No case matches this tab and these filters.</p></div>");
        return html;
    }
    html.push_str(
        "<div class=\"table-wrap\"><table class=\"queue\" id=\"queue\"><thead><tr><th>Case</th><th>Session</th>\
         <th>Status</th><th>Assigned to</th><th>In review since</th><th>SLA</th></tr></thead><tbody>",
    );
    for case in &data.cases.data {
        let assigned = case
            .assigned_to
            .as_deref()
            .map(|a| who(&data.reviewers, reviewer, a))
            .unwrap_or_else(|| "<span class=\"muted\">unassigned</span>".into());
        let session = match &case.session_id {
            Some(s) => {
                let reference = case.session.as_ref().and_then(|x| x.external_ref.as_deref());
                let reference = reference.map(|r| format!("<br><span class=\"muted\">{}</span>", escape(r)));
                format!("<code>{}</code>{}", escape(s), reference.unwrap_or_default())
            }
            None if case.is_demo => "<span class=\"muted\">demo case</span>".into(),
            None => "<span class=\"muted\">none</span>".into(),
        };
        let _ = write!(
            html,
            "<tr data-case=\"{id}\"><td><a class=\"case-link\" href=\"/dashboard/cases/{id}\"><code>{id}</code></a></td>\
             <td>{session}</td><td>{status}</td><td>{assigned}</td>\
             <td><span title=\"{at_full}\">{at}</span><br><span class=\"muted\">{age} ago</span></td><td>{sla}</td></tr>",
            id = escape(&case.id),
            status = status_badge(&case.status),
            at_full = escape(&case.entered_review_at),
            at = when(&case.entered_review_at),
            age = age(&case.entered_review_at, case.decided_at.as_deref().unwrap_or(now)),
            sla = sla_badge(case),
        );
    }
    html.push_str("</tbody></table></div>");
    let p = &data.cases.pagination;
    if p.total > p.limit {
        let mut pager = format!(
            "<nav class=\"toolbar pager\"><span class=\"muted\">{} to {} of {}</span>",
            p.offset + 1,
            (p.offset + p.limit).min(p.total),
            p.total
        );
        if p.offset > 0 {
            let _ =
                write!(pager, "<a href=\"{}\">Previous</a>", queue_link(view, view.tab, (p.offset - p.limit).max(0)));
        }
        if p.offset + p.limit < p.total {
            let _ = write!(pager, "<a href=\"{}\">Next</a>", queue_link(view, view.tab, p.offset + p.limit));
        }
        pager.push_str("</nav>");
        html.push_str(&pager);
    }
    html
}

fn case_flash(flash: Option<&Flash>, case: &CaseView) -> String {
    let pending = case.status == "pending_second_review";
    let text = match flash {
        None => return String::new(),
        Some(Flash::Refused(detail)) => {
            return format!("<p class=\"flash error\" role=\"alert\" id=\"flash\">{}</p>", escape(detail));
        }
        Some(Flash::Done(word)) => match word.as_str() {
            "claimed" => "You claimed this case.",
            "released" => "Claim released: the case is back in the queue.",
            "approve" if pending => {
                "Your approval is recorded as the first review. A different reviewer must make the second review."
            }
            "reject" if pending => {
                "Your rejection is recorded as the first review. A different reviewer must make the second review."
            }
            "approve" => "Approved: the session is complete.",
            "reject" => "Rejected: the session is complete.",
            "escalated" => "Escalated.",
            "noted" => "Note added.",
            "corrected" => "Personal data corrected (re-sealed and re-indexed).",
            "overridden" if case.status == "approved" => {
                "Check overridden: no other check failed, so the case is approved."
            }
            "overridden" if pending => "Check overridden: the approval is recorded as the first review.",
            "overridden" => "Check overridden.",
            "dismissed" => "Hit dismissed.",
            _ => return String::new(),
        },
    };
    format!("<p class=\"flash\" role=\"status\" id=\"flash\">{text}</p>")
}

/// Check names in words.
fn check_label(name: &str) -> String {
    let known = match name {
        "document_ocr" => "Document data",
        "document_expiration" => "Document expiry",
        "age_verification" => "Age",
        "face_match" => "Face match",
        "duplicate_detection" => "Duplicates",
        "watchlist_screening" => "Watchlist screening",
        "risk_assessment" => "Risk",
        "liveness" => "Liveness",
        "ip_check" => "IP address",
        _ => "",
    };
    if known.is_empty() {
        escape(&name.replace('_', " "))
    } else {
        known.into()
    }
}

/// A list member of a check's `detail`, in a word: its name, identity, check or action.
fn item_word(v: &Value) -> String {
    match v {
        Value::Object(o) => ["name", "identity_id", "check", "action"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| "…".into()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A check result's `detail` in a line: its members as `key: value`, lists as their members' names.
fn detail_line(detail: &Value) -> String {
    match detail {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Array(a) if a.is_empty() => "none".into(),
                    Value::Array(a) => a.iter().map(item_word).collect::<Vec<_>>().join(", "),
                    Value::Object(_) => "…".into(),
                    other => other.to_string(),
                };
                format!("{}: {}", escape(&k.replace('_', " ")), escape(&v))
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null => String::new(),
        other => escape(&other.to_string()),
    }
}

fn check_status(c: &Value) -> String {
    c["status"].as_str().map(str::to_string).unwrap_or_else(|| {
        if c["passed"] == Value::Bool(true) {
            "passed".into()
        } else {
            "failed".into()
        }
    })
}

fn checks_card(reviewer: &Reviewer, p: &CasePage) -> String {
    let case = &p.case;
    let Some(results) = case.session.as_ref().and_then(|s| s.check_results.as_object()) else {
        return "<section class=\"card\" id=\"checks\"><h2>Checks</h2><p class=\"muted\">This case has no session checks.</p></section>".into();
    };
    let overridden: Vec<&str> = case.overrides.iter().filter_map(|o| o["check_name"].as_str()).collect();
    let mut html = String::from("<section class=\"card\" id=\"checks\"><h2>Checks</h2>");
    for (name, c) in results {
        let status = check_status(c);
        let is_overridden = overridden.contains(&name.as_str());
        let badge = if is_overridden {
            format!("{} <span class=\"badge passed\">overridden</span>", status_badge(&status))
        } else {
            status_badge(&status)
        };
        let _ = write!(
            html,
            "<div class=\"check\" data-check=\"{n}\"><h3>{label} <code class=\"muted\">{n}</code> {badge}</h3>",
            n = escape(name),
            label = check_label(name),
        );
        let detail = detail_line(&c["detail"]);
        if !detail.is_empty() {
            let _ = write!(html, "<p class=\"muted detail\">{detail}</p>");
        }
        if let Some(subs) = c["sub_checks"].as_array().filter(|s| !s.is_empty()) {
            html.push_str("<ul class=\"subchecks\">");
            for s in subs {
                let st = s["status"].as_str().unwrap_or("skipped");
                let _ = write!(
                    html,
                    "<li>{badge} <code>{name}</code> <span class=\"reason\">{reason}</span></li>",
                    badge = status_badge(st),
                    name = escape(s["name"].as_str().unwrap_or("")),
                    reason = escape(s["reason"].as_str().unwrap_or("")),
                );
            }
            html.push_str("</ul>");
        }
        if status != "passed" && status != "skipped" && !is_overridden && !case_final(case) {
            let _ = write!(
                html,
                "<details class=\"override\"><summary>Override and continue</summary>\
                 <form method=\"post\" action=\"/dashboard/cases/{id}/override\">{csrf}\
                 <input type=\"hidden\" name=\"check\" value=\"{n}\">\
                 <label for=\"ov-{n}\">Why this check can be set aside</label>\
                 <textarea id=\"ov-{n}\" name=\"reason\" required maxlength=\"2000\"></textarea>\
                 <button type=\"submit\">Override {label}</button></form></details>",
                id = escape(&case.id),
                csrf = csrf_input(reviewer),
                n = escape(name),
                label = check_label(name),
            );
        }
        html.push_str("</div>");
    }
    html.push_str("</section>");
    html
}

fn case_final(case: &CaseView) -> bool {
    case.status == "approved" || case.status == "rejected"
}

fn screening_card(reviewer: &Reviewer, p: &CasePage) -> String {
    let mut html = String::from("<section class=\"card\" id=\"screening\"><h2>Screening hits</h2>");
    let hits: usize = p.screening.iter().map(|c| c.hits.len()).sum();
    if hits == 0 {
        let ran = p.screening.len();
        let _ = write!(
            html,
            "<p class=\"muted\">{}</p></section>",
            if ran == 0 { "No screening check ran for this identity." } else { "No watchlist hit." }
        );
        return html;
    }
    for check in &p.screening {
        for hit in &check.hits {
            let _ = write!(
                html,
                "<div class=\"hit\" data-hit=\"{hid}\"><h3>{name} {badge}</h3>\
                 <p class=\"muted\">{list} · entry <code>{entry}</code> · {kind} · score {score:.2}</p>\
                 <p class=\"explanation\">{expl}</p>",
                hid = escape(hit.id.as_str()),
                name = escape(&hit.matched_name),
                badge = if hit.is_dismissed { status_badge("dismissed") } else { status_badge("open") },
                list = escape(&hit.source),
                entry = escape(&hit.entry_id),
                kind = escape(&hit.entity_type),
                score = hit.score,
                expl = escape(hit.explanation.as_deref().unwrap_or("No explanation recorded.")),
            );
            if hit.is_dismissed {
                let _ = write!(
                    html,
                    "<p class=\"muted\">Dismissed{}: {}</p>",
                    hit.dismissed_at.as_deref().map(|t| format!(" {}", when(t))).unwrap_or_default(),
                    escape(hit.dismissed_reason.as_deref().unwrap_or("no reason recorded"))
                );
            } else {
                let _ = write!(
                    html,
                    "<form method=\"post\" action=\"/dashboard/cases/{id}/dismiss\" class=\"inline\">{csrf}\
                     <input type=\"hidden\" name=\"check_id\" value=\"{cid}\"><input type=\"hidden\" name=\"hit_id\" value=\"{hid}\">\
                     <label class=\"sr\" for=\"dis-{hid}\">Reason</label>\
                     <input id=\"dis-{hid}\" name=\"reason\" required maxlength=\"2000\" placeholder=\"Why this is not the person\">\
                     <button type=\"submit\">Dismiss hit</button></form>",
                    id = escape(&p.case.id),
                    csrf = csrf_input(reviewer),
                    cid = escape(check.id.as_str()),
                    hid = escape(hit.id.as_str()),
                );
            }
            html.push_str("</div>");
        }
    }
    html.push_str("</section>");
    html
}

fn person_card(p: &CasePage) -> String {
    let mut html = String::from("<section class=\"card\" id=\"person\"><h2>Person</h2>");
    if p.session_data.is_empty() && p.identity_data.is_empty() {
        html.push_str(
            "<p class=\"muted\">No personal data: none was captured, or it is past its retention window.</p></section>",
        );
        return html;
    }
    html.push_str("<dl class=\"fields\">");
    let mut names: Vec<&String> = p.session_data.keys().chain(p.identity_data.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let from_session = p.session_data.get(name);
        let now = p.identity_data.get(name);
        let value = match (from_session, now) {
            (Some(s), Some(n)) if s != n => format!(
                "{} <span class=\"badge warn\">corrected</span> <span class=\"muted\">read as {}</span>",
                escape(n),
                escape(s)
            ),
            (_, Some(v)) | (Some(v), None) => escape(v),
            (None, None) => String::new(),
        };
        let _ = write!(
            html,
            "<dt>{}</dt><dd data-field=\"{}\">{value}</dd>",
            escape(&name.replace('_', " ")),
            escape(name)
        );
    }
    html.push_str("</dl></section>");
    html
}

fn documents_card(p: &CasePage) -> String {
    let mut html = String::from("<section class=\"card\" id=\"documents\"><h2>Documents</h2>");
    if p.documents.is_empty() {
        html.push_str(
            "<p class=\"muted\">No document images (none uploaded, or past their retention window).</p></section>",
        );
        return html;
    }
    html.push_str("<div class=\"doc-images\">");
    for d in &p.documents {
        let href = format!("/dashboard/cases/{}/documents/{}", escape(&p.case.id), escape(&d.doc_type));
        let _ = write!(
            html,
            "<figure><a href=\"{href}\" target=\"_blank\" rel=\"noopener\"><img src=\"{href}\" alt=\"{label}\" loading=\"lazy\"></a>\
             <figcaption>{label} · {mime} · {kb} KB</figcaption></figure>",
            label = escape(&d.doc_type.replace('_', " ")),
            mime = escape(&d.mime_type),
            kb = (d.size_bytes + 1023) / 1024,
        );
    }
    html.push_str("</div></section>");
    html
}

fn decision_card(reviewer: &Reviewer, p: &CasePage) -> String {
    let case = &p.case;
    let id = escape(&case.id);
    let mut html = String::from("<section class=\"card decision\" id=\"decision\"><h2>Decision</h2>");
    if let Some(r) = &case.recommendation {
        let _ = write!(
            html,
            "<p class=\"recommendation\" id=\"recommendation\">First review: <strong>{d}</strong> by {by}{at}.{more}</p>",
            d = escape(&r.decision),
            by = who(&p.reviewers, reviewer, &r.reviewer_id),
            at = r.recommended_at.as_deref().map(|t| format!(" on {}", when(t))).unwrap_or_default(),
            more = if case.status == "pending_second_review" {
                " A different reviewer makes the second, final decision."
            } else {
                ""
            },
        );
    }
    if case_final(case) {
        let _ = write!(
            html,
            "<p>{badge} by {by}{at}.</p>{notes}{reason}</section>",
            badge = status_badge(&case.status),
            by = case.decided_by.as_deref().map(|d| who(&p.reviewers, reviewer, d)).unwrap_or_else(|| "?".into()),
            at = case.decided_at.as_deref().map(|t| format!(" on {}", when(t))).unwrap_or_default(),
            notes = case.notes.as_deref().map(|n| format!("<p>Notes: {}</p>", escape(n))).unwrap_or_default(),
            reason = case
                .rejection_reason
                .as_deref()
                .map(|n| format!("<p>Rejection reason: {}</p>", escape(n)))
                .unwrap_or_default(),
        );
        return html;
    }
    // The same rule the commands apply: an escalated case is for a senior reviewer or an admin.
    if let Some(Err(refusal)) =
        CaseStatus::parse(&case.status).map(|status| crate::domain::case::ensure_may_handle(status, reviewer.role))
    {
        let _ = write!(
            html,
            "<p class=\"muted\" id=\"decision-refused\">{}</p></section>",
            escape(&refusal.public_detail())
        );
        return html;
    }
    let hint = if p.dual_review && case.status != "pending_second_review" {
        "<p class=\"muted\">Dual review is on: your decision is a recommendation until a second reviewer confirms it.</p>"
    } else {
        ""
    };
    let _ = write!(
        html,
        "{hint}<form method=\"post\" action=\"/dashboard/cases/{id}/approve\" id=\"decide\">{csrf}\
         <label for=\"d-notes\">Notes (optional)</label><textarea id=\"d-notes\" name=\"notes\" maxlength=\"2000\"></textarea>\
         <label for=\"d-reason\">Rejection reason (when rejecting)</label>\
         <textarea id=\"d-reason\" name=\"rejection_reason\" maxlength=\"2000\" rows=\"2\"></textarea>\
         <div class=\"actions\">\
         <button type=\"submit\" class=\"approve\" id=\"approve\" data-shortcut=\"a\">Approve <kbd>a</kbd></button>\
         <button type=\"submit\" class=\"reject\" id=\"reject\" formaction=\"/dashboard/cases/{id}/reject\" data-shortcut=\"r\">Reject <kbd>r</kbd></button>\
         </div></form>",
        csrf = csrf_input(reviewer),
    );
    if matches!(case.status.as_str(), "open" | "in_review") {
        let _ = write!(
            html,
            "<details class=\"escalate\"><summary>Escalate</summary>\
             <form method=\"post\" action=\"/dashboard/cases/{id}/escalate\">{csrf}\
             <label for=\"e-to\">To (team or person, optional)</label><input id=\"e-to\" name=\"escalated_to\" maxlength=\"200\">\
             <label for=\"e-reason\">Reason</label><textarea id=\"e-reason\" name=\"reason\" maxlength=\"2000\"></textarea>\
             <button type=\"submit\" id=\"escalate\">Escalate</button></form></details>",
            csrf = csrf_input(reviewer),
        );
    }
    if let Some(e) = &case.escalation {
        let _ = write!(
            html,
            "<p class=\"muted\">Escalated{to}{at}{reason}</p>",
            to = e.escalated_to.as_deref().map(|t| format!(" to {}", escape(t))).unwrap_or_default(),
            at = e.escalated_at.as_deref().map(|t| format!(" on {}", when(t))).unwrap_or_default(),
            reason = e.reason.as_deref().map(|r| format!(": {}", escape(r))).unwrap_or_default(),
        );
    }
    html.push_str("</section>");
    html
}

fn notes_card(reviewer: &Reviewer, p: &CasePage) -> String {
    let mut html = String::from("<section class=\"card\" id=\"notes\"><h2>Notes</h2>");
    if p.notes.is_empty() {
        html.push_str("<p class=\"muted\">No notes yet.</p>");
    } else {
        html.push_str("<ul class=\"timeline notes\">");
        for n in &p.notes {
            let _ = write!(
                html,
                "<li><p class=\"note-body\">{body}</p><span class=\"muted\">{by} · {at}</span></li>",
                body = escape(n.body.as_deref().unwrap_or("(erased)")),
                by = n.author.as_deref().map(|a| who(&p.reviewers, reviewer, a)).unwrap_or_else(|| "API".into()),
                at = when(&n.created_at),
            );
        }
        html.push_str("</ul>");
    }
    let _ = write!(
        html,
        "<form method=\"post\" action=\"/dashboard/cases/{id}/notes\">{csrf}\
         <label for=\"n-body\">Add a note</label><textarea id=\"n-body\" name=\"body\" required maxlength=\"2000\"></textarea>\
         <button type=\"submit\">Add note</button></form></section>",
        id = escape(&p.case.id),
        csrf = csrf_input(reviewer),
    );
    html
}

fn pii_card(reviewer: &Reviewer, p: &CasePage) -> String {
    if case_final(&p.case) || p.case.identity_id.is_none() {
        return String::new();
    }
    let mut inputs = String::new();
    for (name, label) in PII_FIELDS {
        let current = p.identity_data.get(*name).or_else(|| p.session_data.get(*name));
        let placeholder = current.map(|v| format!(" placeholder=\"{}\"", escape(v))).unwrap_or_default();
        let _ = write!(
            inputs,
            "<div><label for=\"pii-{name}\">{label}</label><input id=\"pii-{name}\" name=\"{name}\" maxlength=\"200\"{placeholder}></div>"
        );
    }
    let mut corrections = String::new();
    for c in &p.case.pii_corrections {
        let fields: Vec<&str> =
            c["fields"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let _ = write!(
            corrections,
            "<li>{} corrected by {}{}</li>",
            escape(&fields.join(", ")),
            who(&p.reviewers, reviewer, c["reviewer_id"].as_str().unwrap_or("")),
            c["reason"].as_str().map(|r| format!(": {}", escape(r))).unwrap_or_default()
        );
    }
    if !corrections.is_empty() {
        corrections = format!("<ul class=\"muted\">{corrections}</ul>");
    }
    format!(
        "<section class=\"card\" id=\"pii\"><h2>Correct personal data</h2>{corrections}\
         <details><summary>Fix a misread value</summary>\
         <form method=\"post\" action=\"/dashboard/cases/{id}/pii\">{csrf}\
         <p class=\"muted\">Only the fields you fill in change; they are re-sealed and the search indexes recomputed.</p>\
         <div class=\"pii-grid\">{inputs}</div>\
         <label for=\"pii-reason\">Reason</label><input id=\"pii-reason\" name=\"reason\" maxlength=\"2000\">\
         <button type=\"submit\">Save correction</button></form></details></section>",
        id = escape(&p.case.id),
        csrf = csrf_input(reviewer),
    )
}

fn timeline_card(reviewer: &Reviewer, p: &CasePage) -> String {
    let mut html = String::from("<section class=\"card\" id=\"timeline\"><h2>Audit timeline</h2>");
    if p.timeline.is_empty() {
        html.push_str("<p class=\"muted\">Nothing recorded yet.</p></section>");
        return html;
    }
    html.push_str("<ol class=\"timeline\">");
    for e in &p.timeline {
        // A reviewer acts as `orguser_…`, written `user:orguser_…` where the log names its actors' kinds.
        let user = e.actor.strip_prefix("user:").unwrap_or(&e.actor);
        let actor = if user.starts_with("orguser_") {
            who(&p.reviewers, reviewer, user)
        } else {
            format!("<code>{}</code>", escape(&e.actor))
        };
        let _ = write!(
            html,
            "<li data-action=\"{a}\"><code>{a}</code> <span class=\"muted\">{rt}</span><br>\
             <span class=\"muted\">{at} · {actor} · #{seq}</span></li>",
            a = escape(&e.action),
            rt = escape(&e.resource_type),
            at = when(&e.at),
            seq = e.sequence_num,
        );
    }
    html.push_str("</ol></section>");
    html
}

fn head(reviewer: &Reviewer, p: &CasePage, now: &str) -> String {
    let case = &p.case;
    let id = escape(&case.id);
    let assignment = match &case.assigned_to {
        Some(a) => format!("Assigned to {}", who(&p.reviewers, reviewer, a)),
        None => "Unassigned".into(),
    };
    let mine = case.assigned_to.as_deref() == Some(reviewer.user_id.as_str());
    let claim = if case_final(case) {
        String::new()
    } else if mine {
        format!(
            "<form method=\"post\" action=\"/dashboard/cases/{id}/release\" class=\"inline\">{}\
             <button type=\"submit\" id=\"release\">Release</button></form>",
            csrf_input(reviewer)
        )
    } else if case.assigned_to.is_none() {
        format!(
            "<form method=\"post\" action=\"/dashboard/cases/{id}/claim\" class=\"inline\">{}\
             <button type=\"submit\" class=\"primary\" id=\"claim\">Claim</button></form>",
            csrf_input(reviewer)
        )
    } else {
        String::new()
    };
    let session = match &case.session {
        Some(s) => format!(
            "<dt>Session</dt><dd><code>{}</code> {}{}</dd>",
            escape(&s.id),
            status_badge(&s.status),
            s.result_status.as_deref().map(|r| format!(" result {}", status_badge(r))).unwrap_or_default()
        ),
        None => "<dt>Session</dt><dd class=\"muted\">none (demo case)</dd>".into(),
    };
    let identity = match &case.identity_id {
        Some(i) => format!(
            "<dt>Identity</dt><dd><code>{}</code>{}{}</dd>",
            escape(i),
            p.external_ref.as_deref().map(|r| format!(" · {}", escape(r))).unwrap_or_default(),
            p.identity_status.as_deref().map(|s| format!(" {}", status_badge(s))).unwrap_or_default()
        ),
        None => String::new(),
    };
    format!(
        "<p class=\"crumbs\"><a href=\"/dashboard/cases\">Review queue</a></p>\
         <div class=\"page-head\"><h1>Case <code>{id}</code></h1>\
         <div class=\"toolbar\">{status} {sla} <span id=\"assignment\">{assignment}</span>{claim}\
         <form method=\"post\" action=\"/dashboard/cases/next\" class=\"inline\">{csrf}\
         <button type=\"submit\" id=\"claim-next\" data-shortcut=\"n\">Next case <kbd>n</kbd></button></form></div></div>\
         <div class=\"card summary\"><dl class=\"fields\">{session}{identity}\
         <dt>In review since</dt><dd>{since} <span class=\"muted\">({age})</span></dd></dl></div>",
        status = status_badge(&case.status),
        sla = sla_badge(case),
        csrf = csrf_input(reviewer),
        since = when(&case.entered_review_at),
        age = age(&case.entered_review_at, case.decided_at.as_deref().unwrap_or(now)),
    )
}

pub fn case(reviewer: &Reviewer, p: &CasePage, flash: Option<&Flash>, now: &str) -> String {
    let graph = match &p.graph {
        Some(g) => super::graph::card(g),
        None => String::new(),
    };
    format!(
        "{head}{flash}<div class=\"grid case-grid\"><div class=\"col-main\">{decision}{person}{documents}{checks}{screening}</div>\
         <div class=\"col-side\">{notes}{graph}{pii}{timeline}</div></div>",
        head = head(reviewer, p, now),
        flash = case_flash(flash, &p.case),
        decision = decision_card(reviewer, p),
        person = person_card(p),
        documents = documents_card(p),
        checks = checks_card(reviewer, p),
        screening = screening_card(reviewer, p),
        notes = notes_card(reviewer, p),
        pii = pii_card(reviewer, p),
        timeline = timeline_card(reviewer, p),
    )
}
