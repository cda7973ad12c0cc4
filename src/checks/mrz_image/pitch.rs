//! The fixed-pitch MRZ recogniser: in an upright band cut from a photo, finds the 2-3 text lines, fits each
//! line's cap line and baseline, resamples it so the caps are as tall as the OCR-B templates, places the
//! line's known number of character cells by dynamic programming over template match scores (so the pitch
//! may drift with perspective), and ranks every cell's characters by normalised cross-correlation. Pure
//! image arithmetic; must not choose the text (the check digits do that in `choose`).

use image::GrayImage;

use super::glyphs::{Glyphs, Template, CAP, CELL_H, MARGIN};
use super::locate::{character_ink, threshold};
use super::Symbol;

/// Alternatives scoring within this much (correlation) of a cell's best are offered with it.
pub const ALT_DELTA: f32 = 0.06;
/// OCR-B's look-alike pairs (the glyphs differ, but blur and a slightly wrong vertical scale bring them
/// close): the partner of a cell's best is offered when it scores within `CONFUSABLE_DELTA`, so a check
/// digit decides, or, in a field none covers, the read is refused as ambiguous.
pub(super) const CONFUSABLE: [(char, char); 6] =
    [('0', 'O'), ('1', 'I'), ('5', 'S'), ('8', 'B'), ('2', 'Z'), ('0', 'D')];
const CONFUSABLE_DELTA: f32 = 0.12;
/// The best character of the other class (a digit for a letter, a letter for a digit) is kept as a fallback
/// when it scores within this much of the cell's best.
const CLASS_DELTA: f32 = 0.15;
/// At most this many characters are offered per cell.
const MAX_ALTERNATIVES: usize = 4;
/// A cell whose best correlation is below this is unreadable: the line is refused.
const MIN_SCORE: f32 = 0.45;
/// Vertical scales (against the horizontal) tried for a line, evenly spaced.
const VSCALES: [f32; 7] = [0.91, 0.94, 0.97, 1.0, 1.03, 1.06, 1.09];
const VSCALE_STEP: f32 = 0.03;
/// How much the vertical scale may change from one end of a line to the other (perspective).
const VSLOPES: [f32; 7] = [0.0, -0.09, -0.06, -0.03, 0.03, 0.06, 0.09];
/// Characters per cell the vertical scale and the blur are fitted on.
const FIT_CANDIDATES: usize = 4;
/// Vertical search (template pixels) each side when classifying a cell.
const DY: usize = 2;

/// A text line found in the band: its horizontal ink extent and its cap line and baseline as lines
/// `y = a + b x` in band pixels.
#[derive(Clone, Debug)]
pub struct Line {
    pub x_left: f32,
    pub x_right: f32,
    /// The fraction of columns between the ends that hold ink.
    fill: f32,
    top: (f32, f32),
    bottom: (f32, f32),
}

impl Line {
    fn top_at(&self, x: f32) -> f32 {
        self.top.0 + self.top.1 * x
    }
    fn bottom_at(&self, x: f32) -> f32 {
        self.bottom.0 + self.bottom.1 * x
    }
    /// Mean cap height in band pixels.
    pub fn height(&self) -> f32 {
        let xm = (self.x_left + self.x_right) / 2.0;
        (self.bottom_at(xm) - self.top_at(xm)).max(1.0)
    }
    /// The number of characters the line's length suggests, for templates of `pitch` per `CAP` (about 8 %
    /// low on a line of digits, which stand taller).
    pub fn cells_estimate(&self, pitch: f32) -> f32 {
        (self.x_right - self.x_left) / (self.height() / CAP as f32) / pitch + 0.35
    }
}

/// The MRZ text lines of an upright band, top to bottom: 2 or 3 lines of matching length, or none.
pub fn find_lines(band: &GrayImage) -> Vec<Line> {
    let (w, h) = (band.width() as usize, band.height() as usize);
    if w < 20 || h < 8 {
        return Vec::new();
    }
    let mask = threshold(band, (h / 6).clamp(6, 30) as u32, 0.85);
    // Rows are counted over the middle of the band only: the band is cut wide, and beyond the page's edges
    // a table or cloth may be textured.
    let (ca, cb) = (w / 5, w * 4 / 5);
    // Rows are told apart on character-sized ink only: the page's guilloche lines and a textured table
    // join into larger shapes that would otherwise fill the gaps between the lines.
    let text = character_ink(&mask, w, h, (w / 3).max(8), (h / 3).max(8));
    let rows: Vec<usize> = (0..h).map(|y| text[y * w + ca..y * w + cb].iter().filter(|&&m| m).count()).collect();
    let max = rows.iter().copied().max().unwrap_or(0);
    if max < 10 {
        return Vec::new();
    }
    // Runs of rows with a quarter of the densest row's ink, a one-row gap tolerated.
    let mut segs: Vec<(usize, usize, usize)> = Vec::new(); // y0, y1 (exclusive), ink
    let mut y = 0;
    while y < h {
        if rows[y] * 4 < max {
            y += 1;
            continue;
        }
        let y0 = y;
        let mut ink = 0;
        let mut last = y;
        while y < h && (rows[y] * 4 >= max || (y + 1 < h && rows[y + 1] * 4 >= max && y == last + 1)) {
            if rows[y] * 4 >= max {
                last = y;
            }
            ink += rows[y];
            y += 1;
        }
        if last + 1 - y0 >= 4 {
            segs.push((y0, last + 1, ink));
        }
    }
    // Each line's rows reach at most halfway to its neighbours'.
    let mut lines: Vec<Line> = (0..segs.len())
        .filter_map(|i| {
            let (y0, y1, _) = segs[i];
            let lo = if i > 0 { (segs[i - 1].1 + y0) / 2 } else { 0 };
            let hi = segs.get(i + 1).map_or(h, |n| (y1 + n.0).div_ceil(2));
            fit_line(&mask, w, (lo, hi), y0, y1)
        })
        .collect();
    // Text, not an edge: characters leave gaps between them, and stand about as tall as each other.
    lines.retain(|l| l.fill < 0.9);
    let mut hs: Vec<f32> = lines.iter().map(Line::height).collect();
    hs.sort_by(f32::total_cmp);
    if let Some(&median) = hs.get(hs.len() / 2) {
        lines.retain(|l| (0.7 * median..=1.35 * median).contains(&l.height()));
    }
    // The longest lines of matching length: the MRZ is the widest text in its band.
    let longest = lines.iter().map(|l| l.x_right - l.x_left).fold(0.0f32, f32::max);
    lines.retain(|l| l.x_right - l.x_left >= 0.85 * longest);
    if lines.len() > 3 {
        let k = lines.len() - 3;
        lines.drain(..k);
    }
    if lines.len() < 2 {
        return Vec::new();
    }
    lines
}

/// The extent, cap line and baseline of the text between rows `y0` and `y1` (exclusive), looking no further
/// than rows `lo..hi`.
fn fit_line(mask: &[bool], w: usize, (lo, hi): (usize, usize), y0: usize, y1: usize) -> Option<Line> {
    let lh = y1 - y0;
    let ya = y0.saturating_sub(lh / 3).max(lo);
    let yb = (y1 + lh / 3).min(hi);
    let cols: Vec<usize> = (0..w).map(|x| (y0..y1).filter(|&y| mask[y * w + x]).count()).collect();
    // The longest run of inked columns, gaps of up to a pitch closed (a faint filler may vanish).
    let gap = (lh * 13 / 10).max(3);
    let (mut best, mut cur): (Option<(usize, usize)>, Option<(usize, usize)>) = (None, None);
    for (x, &c) in cols.iter().enumerate() {
        if c == 0 {
            continue;
        }
        cur = match cur {
            Some((s, e)) if x - e <= gap => Some((s, x)),
            _ => Some((x, x)),
        };
        if let Some((s, e)) = cur {
            if best.is_none_or(|(bs, be)| e - s > be - bs) {
                best = Some((s, e));
            }
        }
    }
    let (xl, xr) = best?;
    if xr - xl < 10 * lh / 2 {
        return None;
    }
    // Per chunk of about two characters: the highest and lowest inked rows. Chunks as tall as the line's
    // letters fit the cap line and baseline (fillers are shorter and say nothing about them).
    let chunk = (lh * 2).max(4);
    let mut pts: Vec<(f32, f32, f32)> = Vec::new(); // x, top, bottom
    let mut x = xl;
    while x < xr {
        let xe = (x + chunk).min(xr + 1);
        let inked = |y: usize| (x..xe).filter(|&xx| mask[y * w + xx]).count() >= 2;
        let top = (ya..yb).find(|&y| inked(y));
        let bot = (ya..yb).rev().find(|&y| inked(y));
        if let (Some(t), Some(b)) = (top, bot) {
            pts.push(((x + xe) as f32 / 2.0, t as f32, b as f32 + 1.0));
        }
        x = xe;
    }
    let mut hs: Vec<f32> = pts.iter().map(|p| p.2 - p.1).collect();
    hs.sort_by(f32::total_cmp);
    let tall = *hs.get(hs.len() * 3 / 4)?;
    let full: Vec<(f32, f32, f32)> =
        pts.into_iter().filter(|p| p.2 - p.1 >= 0.85 * tall && p.2 - p.1 <= 1.15 * tall).collect();
    let top = fit(&full.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>())?;
    let bottom = fit(&full.iter().map(|p| (p.0, p.2)).collect::<Vec<_>>())?;
    let fill = cols[xl..=xr].iter().filter(|&&c| c > 0).count() as f32 / (xr + 1 - xl) as f32;
    Some(Line { x_left: xl as f32, x_right: xr as f32 + 1.0, fill, top, bottom })
}

/// Least-squares line `y = a + b x`; a constant when the points span too little.
fn fit(pts: &[(f32, f32)]) -> Option<(f32, f32)> {
    if pts.is_empty() {
        return None;
    }
    let n = pts.len() as f32;
    let mx = pts.iter().map(|p| p.0).sum::<f32>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f32>() / n;
    let sxx: f32 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f32 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if pts.len() < 3 || sxx < 1.0 {
        return Some((my, 0.0));
    }
    let b = (sxy / sxx).clamp(-0.1, 0.1);
    Some((my - b * mx, b))
}

/// A line resampled to template scale: `CELL_H + 2 DY` rows, ink as positive values.
struct Strip {
    w: usize,
    ink: Vec<f32>,
    /// Strip x of the line's left ink edge.
    left: f32,
    /// Strip x of the line's right ink edge.
    right: f32,
}

/// The line resampled for `n` characters: the ink extent of n cells (the first glyph's left bearing and the
/// last one's right bearing are about a sixth of a pitch each) gives the scale, the fitted baseline the
/// rows. OCR-B's digits stand taller than its capitals, so the cap line is not measured but follows from
/// the scale.
fn resample(band: &GrayImage, line: &Line, n: usize, glyphs: &Glyphs, vscale: (f32, f32)) -> Strip {
    let s = (line.x_right - line.x_left) / (n as f32 - 0.35) / glyphs.pitch; // band px per template px
    let pad = glyphs.pitch * 1.2;
    let w = ((line.x_right - line.x_left) / s + 2.0 * pad).ceil() as usize;
    let h = CELL_H + 2 * DY;
    let (bw, bh) = band.dimensions();
    let raw = band.as_raw();
    let mut ink = vec![0f32; w * h];
    for sx in 0..w {
        let x = line.x_left + (sx as f32 - pad + 0.5) * s - 0.5;
        let base = line.bottom_at(x);
        let vscale = vscale.0 + vscale.1 * (sx as f32 / w as f32 - 0.5);
        for sy in 0..h {
            let ty = sy as f32 - DY as f32 - (MARGIN + CAP) as f32 + 0.5;
            let y = base + ty * s * vscale - 0.5;
            ink[sy * w + sx] = 255.0 - super::locate::interpolate(raw, bw, bh, x, y);
        }
    }
    Strip { w, ink, left: pad, right: pad + (line.x_right - line.x_left) / s }
}

/// Correlation of every template (or of those `only` names; the others score -1) with the strip's cell whose
/// left edge is `x` and top row `y`.
fn scores_at(
    strip: &Strip,
    templates: &[Template],
    only: Option<&[usize]>,
    x: usize,
    y: usize,
    out: &mut [f32],
    patch: &mut Vec<f32>,
) -> bool {
    let Some(cw) = templates.first().map(|t| t.values.len() / CELL_H) else { return false };
    patch.clear();
    for r in 0..CELL_H {
        let row = (y + r) * strip.w + x;
        patch.extend_from_slice(&strip.ink[row..row + cw]);
    }
    let mean = patch.iter().sum::<f32>() / patch.len() as f32;
    let norm = patch.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>().sqrt();
    if norm < 1e-3 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return false;
    }
    for (i, (o, t)) in out.iter_mut().zip(templates).enumerate() {
        if only.is_some_and(|only| !only.contains(&i)) {
            *o = -1.0;
            continue;
        }
        // The template is zero-mean, so the patch's mean drops out of the dot product.
        let dot: f32 = t.values.iter().zip(patch.iter()).map(|(a, b)| a * b).sum();
        *o = dot / norm;
    }
    true
}

/// Reads `n` cells of a line: each cell's characters, best first, with their correlation (x100).
pub fn read_line(band: &GrayImage, line: &Line, n: usize, glyphs: &Glyphs) -> Result<Vec<Symbol>, String> {
    let strip = resample(band, line, n, glyphs, (1.0, 0.0));
    let cw = glyphs.width;
    if strip.w < cw + 2 || n < 2 {
        return Err("line too short".into());
    }
    let positions = strip.w - cw;
    let k = glyphs.templates.len();
    let mut buf = vec![0f32; k];
    let mut patch = Vec::with_capacity(cw * CELL_H);
    // Best template score at every cell position (vertically centred).
    let best: Vec<f32> = (0..positions)
        .map(|x| {
            scores_at(&strip, &glyphs.templates, None, x, DY, &mut buf, &mut patch);
            buf.iter().copied().fold(-1.0f32, f32::max)
        })
        .collect();
    // The pitch the ink extent implies, and the cell placement maximising the summed scores with every
    // step within 10 % of it.
    let pitch = glyphs.pitch;
    let smin = (pitch * 0.9).floor().max(1.0) as usize;
    let smax = (pitch * 1.1).ceil() as usize;
    let first_lo = (strip.left - 0.55 * cw as f32).max(0.0) as usize;
    let first_hi = ((strip.left + 0.2 * cw as f32) as usize).min(positions - 1);
    let last_lo = (strip.right - 1.25 * cw as f32).max(0.0) as usize;
    let last_hi = ((strip.right - 0.45 * cw as f32).max(0.0) as usize).min(positions - 1);
    const NONE: f32 = f32::NEG_INFINITY;
    let mut dp = vec![NONE; positions];
    if first_lo > first_hi || last_lo > last_hi {
        return Err("the line is too short for its cells".into());
    }
    dp[first_lo..=first_hi].copy_from_slice(&best[first_lo..=first_hi]);
    let mut back: Vec<Vec<u32>> = Vec::with_capacity(n);
    back.push(vec![0; positions]);
    for _ in 1..n {
        let mut next = vec![NONE; positions];
        let mut from = vec![0u32; positions];
        for x in 0..positions {
            let mut m = NONE;
            let mut arg = 0;
            for s in smin..=smax {
                if x >= s && dp[x - s] > m {
                    m = dp[x - s];
                    arg = x - s;
                }
            }
            if m > NONE {
                next[x] = m + best[x];
                from[x] = arg as u32;
            }
        }
        dp = next;
        back.push(from);
    }
    let (mut x, total) = (last_lo..=last_hi)
        .map(|x| (x, dp[x]))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, v)| *v > NONE)
        .ok_or_else(|| "no cell placement fits the line".to_string())?;
    let _ = total;
    let mut cells = vec![0usize; n];
    for i in (0..n).rev() {
        cells[i] = x;
        x = back[i][x] as usize;
    }
    // Perspective squeezes the line's height against its pitch, and OCR-B's 0 and O differ mostly in
    // height: the vertical scale that fits the placed cells best is the one the cells are read at.
    let classify = |strip: &Strip,
                    templates: &[Template],
                    only: Option<&[usize]>,
                    buf: &mut [f32],
                    patch: &mut Vec<f32>,
                    cx: usize,
                    dxs: &[i64]| {
        let mut top = vec![-1.0f32; k];
        for &dx in dxs {
            let xx = cx as i64 + dx;
            if xx < 0 || xx as usize >= positions {
                continue;
            }
            for yy in 0..=2 * DY {
                if scores_at(strip, templates, only, xx as usize, yy, buf, patch) {
                    for (t, b) in top.iter_mut().zip(buf.iter()) {
                        *t = t.max(*b);
                    }
                }
            }
        }
        top
    };
    // A line seen in perspective is taller at its near end: the vertical scale may change linearly along
    // the line. Each cell's best score at a few scales, then the straight line through them that fits the
    // cells best (interpolated between the scales tried).
    let xrel = |cx: usize| (cx as f32 + cw as f32 / 2.0) / strip.w as f32 - 0.5;
    // The scale and blur are fitted on each cell's few best characters at the plain scale (the rest cannot
    // win the cell), which keeps the fitting cheap.
    let likely: Vec<Vec<usize>> = cells
        .iter()
        .map(|&cx| {
            let top = classify(&strip, &glyphs.templates, None, &mut buf, &mut patch, cx, &[0]);
            let mut idx: Vec<usize> = (0..k).collect();
            idx.sort_by(|&a, &b| top[b].total_cmp(&top[a]));
            idx.truncate(FIT_CANDIDATES);
            idx
        })
        .collect();
    let fit_of = |strip: &Strip, templates: &[Template], buf: &mut [f32], patch: &mut Vec<f32>| -> Vec<f32> {
        cells
            .iter()
            .zip(&likely)
            .map(|(&cx, only)| {
                classify(strip, templates, Some(only), buf, patch, cx, &[0]).into_iter().fold(-1.0f32, f32::max)
            })
            .collect()
    };
    let fits: Vec<Vec<f32>> = VSCALES
        .iter()
        .map(|&v| {
            let s = resample(band, line, n, glyphs, (v, 0.0));
            fit_of(&s, &glyphs.templates, &mut buf, &mut patch)
        })
        .collect();
    let at = |cell: usize, v: f32| -> f32 {
        let pos = ((v - VSCALES[0]) / VSCALE_STEP).clamp(0.0, (VSCALES.len() - 1) as f32);
        let i = (pos.floor() as usize).min(VSCALES.len() - 2);
        let f = pos - i as f32;
        fits[i][cell] * (1.0 - f) + fits[i + 1][cell] * f
    };
    let mut best_fit = f32::MIN;
    let mut vscale = (1.0f32, 0.0f32);
    for slope in VSLOPES {
        for step in 0..=((VSCALES[VSCALES.len() - 1] - VSCALES[0]) / 0.01).round() as usize {
            let v0 = VSCALES[0] + 0.01 * step as f32;
            let fit: f32 = cells.iter().enumerate().map(|(i, &cx)| at(i, v0 + slope * xrel(cx))).sum();
            // A slope must fit better than no slope (tried first), not merely as well.
            if fit > best_fit + 1e-4 {
                best_fit = fit;
                vscale = (v0, slope);
            }
        }
    }
    let strip = resample(band, line, n, glyphs, vscale);
    let mut best_fit: f32 = fit_of(&strip, &glyphs.templates, &mut buf, &mut patch).into_iter().sum();
    // The photo's blur: the set of templates softened as much as the line fits it best.
    let mut templates: &[Template] = &glyphs.templates;
    for set in &glyphs.softened {
        let fit: f32 = fit_of(&strip, set, &mut buf, &mut patch).into_iter().sum();
        if fit > best_fit {
            best_fit = fit;
            templates = set;
        }
    }
    let mut symbols = Vec::with_capacity(n);
    for &cx in &cells {
        let top = classify(&strip, templates, None, &mut buf, &mut patch, cx, &[-1, 0, 1]);
        let mut ranked: Vec<(char, f32)> = glyphs.templates.iter().zip(&top).map(|(t, s)| (t.ch, *s)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let best = ranked[0].1;
        if best < MIN_SCORE {
            return Err("a character cell matches no glyph".into());
        }
        let top_char = ranked[0].0;
        let partner = |c: char| CONFUSABLE.iter().any(|&(a, b)| (a == top_char && b == c) || (b == top_char && a == c));
        let choices: Vec<(char, f32)> = ranked
            .iter()
            .enumerate()
            .filter(|(i, (c, s))| {
                (*i < MAX_ALTERNATIVES && *s >= best - ALT_DELTA) || (partner(*c) && *s >= best - CONFUSABLE_DELTA)
            })
            .map(|(_, (c, s))| (*c, s * 100.0))
            .collect();
        // The best of the other class (digits for a letter, letters for a digit) and those close to it, for
        // a position whose kind rules out the top choice.
        let other = |c: char| c != '<' && c.is_ascii_digit() != top_char.is_ascii_digit() && top_char != '<';
        let fallback: Vec<(char, f32)> = match ranked.iter().find(|(c, _)| other(*c)) {
            Some(&(_, class_best)) if class_best >= best - CLASS_DELTA && class_best >= MIN_SCORE => ranked
                .iter()
                .filter(|(c, s)| other(*c) && *s >= class_best - ALT_DELTA)
                .take(MAX_ALTERNATIVES)
                .map(|(c, s)| (*c, s * 100.0))
                .collect(),
            _ => Vec::new(),
        };
        symbols.push(Symbol { choices, fallback });
    }
    Ok(symbols)
}
