//! The case page's relationship graph: the identity's relationships and duplicates (two hops) drawn as a
//! small server-rendered SVG (the identity in the middle, one ring per hop), with the links listed in
//! text below it. Only ids, external refs, statuses and relationship types: no personal data. Must not
//! read anything; styles come from dashboard.css classes.

use super::super::layout::escape;
use crate::queries::relationships::GraphView;
use std::collections::HashMap;
use std::fmt::Write as _;

const W: f64 = 360.0;
/// The most nodes drawn; the rest are counted.
const MAX_NODES: usize = 24;
/// Up to this many links carry their type on the drawing.
const LABELLED_EDGES: usize = 4;

fn short(id: &str) -> String {
    // `idn_01JD2Z8Q…` keeps the prefix and the start of the ULID: enough to tell nodes apart.
    if id.len() > 12 {
        format!("{}…", &id[..12])
    } else {
        id.to_string()
    }
}

fn status_class(status: &str) -> &'static str {
    match status {
        "approved" => "n-approved",
        "failed" | "rejected" | "declined" => "n-failed",
        "under_review" | "pending" => "n-review",
        _ => "n-other",
    }
}

pub fn card(g: &GraphView) -> String {
    let mut html = String::from("<section class=\"card\" id=\"graph\"><h2>Relationships and duplicates</h2>");
    if g.edges.is_empty() {
        html.push_str(
            "<p class=\"muted\" id=\"graph-empty\">No relationship or duplicate links to other identities.</p></section>",
        );
        return html;
    }
    let nodes: Vec<_> = g.nodes.iter().take(MAX_NODES).collect();
    // One ring needs less height than two.
    let h = if nodes.iter().any(|n| n.depth > 1) { 240.0 } else { 180.0 };
    let (cx, cy) = (W / 2.0, h / 2.0);
    // The drawing is wider than high: rings are ellipses.
    let stretch = if h < 200.0 { 2.0 } else { 1.35 };
    let mut pos: HashMap<&str, (f64, f64)> = HashMap::new();
    for depth in 0..=g.depth.max(1) {
        let ring: Vec<_> = nodes.iter().filter(|n| n.depth == depth).collect();
        let radius = match depth {
            0 => 0.0,
            1 if h < 200.0 => 62.0,
            1 => 78.0,
            _ => 112.0,
        };
        for (i, n) in ring.iter().enumerate() {
            // The first neighbour sits to the left, so one or two links lie flat and leave room for labels.
            let angle = std::f64::consts::PI
                + (i as f64) * std::f64::consts::TAU / (ring.len().max(1) as f64)
                + if depth > 1 { 0.35 } else { 0.0 };
            pos.insert(n.id.as_str(), (cx + radius * angle.cos() * stretch, cy + radius * angle.sin()));
        }
    }
    let mut svg = format!(
        "<svg class=\"graph\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-labelledby=\"graph-title\">\
         <title id=\"graph-title\">Identities linked to {}</title>",
        escape(g.root_identity_id.as_str())
    );
    for e in &g.edges {
        let (Some(a), Some(b)) = (pos.get(e.source.as_str()), pos.get(e.target.as_str())) else { continue };
        let class = if e.is_system { "edge dup" } else { "edge" };
        let _ = write!(
            svg,
            "<line class=\"{class}\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"><title>{}</title></line>",
            a.0,
            a.1,
            b.0,
            b.1,
            escape(&e.relationship_type)
        );
        // Labels only while they fit; the list below names every link either way.
        if g.edges.len() <= LABELLED_EDGES {
            let _ = write!(
                svg,
                "<text class=\"edge-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                (a.0 + b.0) / 2.0,
                (a.1 + b.1) / 2.0 - 5.0,
                escape(&e.relationship_type.replace('_', " "))
            );
        }
    }
    for n in &nodes {
        let Some((x, y)) = pos.get(n.id.as_str()) else { continue };
        let root = if n.depth == 0 { " root" } else { "" };
        let label = n.external_ref.clone().unwrap_or_else(|| short(n.id.as_str()));
        let _ = write!(
            svg,
            "<g class=\"node {cls}{root}\" data-identity=\"{id}\"><title>{id} ({status})</title>\
             <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\"></circle>\
             <text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{label}</text></g>",
            cls = status_class(&n.status),
            id = escape(n.id.as_str()),
            status = escape(&n.status),
            r = if n.depth == 0 { 11 } else { 8 },
            ty = y + if n.depth == 0 { 24.0 } else { 20.0 },
            label = escape(&label),
        );
    }
    svg.push_str("</svg>");
    html.push_str(&svg);
    if g.nodes.len() > MAX_NODES {
        let _ = write!(html, "<p class=\"muted\">{} more identities not drawn.</p>", g.nodes.len() - MAX_NODES);
    }
    let label_of = |id: &str| -> String {
        g.nodes
            .iter()
            .find(|n| n.id.as_str() == id)
            .and_then(|n| n.external_ref.clone())
            .map(|r| format!("{} (<code>{}</code>)", escape(&r), escape(id)))
            .unwrap_or_else(|| format!("<code>{}</code>", escape(id)))
    };
    html.push_str("<ul class=\"graph-links\">");
    for e in &g.edges {
        let _ = write!(
            html,
            "<li>{} <span class=\"badge{}\">{}</span> {}</li>",
            label_of(e.source.as_str()),
            if e.is_system { " warn" } else { "" },
            escape(&e.relationship_type.replace('_', " ")),
            label_of(e.target.as_str()),
        );
    }
    html.push_str("</ul></section>");
    html
}
