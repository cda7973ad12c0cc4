//! Finding the MRZ band on a photo: orientation by quarter turns and small skew from projection profiles of
//! an adaptively thresholded copy, then the 2-3 long, evenly spaced text lines near the page's bottom edge,
//! cut out of the original at a size the engine reads well. Pure image arithmetic; must not run the OCR.

use image::GrayImage;

/// Long side of the working copy the band is searched on.
const WORK_LONG_SIDE: f32 = 1000.0;
/// Height, in pixels, the MRZ characters are scaled to for Tesseract.
#[cfg(feature = "ocr")]
const TARGET_CHAR_HEIGHT: f32 = 22.0;

/// How the original maps onto an upright, deskewed frame: rotate by `angle` (radians, counter-clockwise
/// positive in image coordinates) about the original's centre, scale by `scale`.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub angle: f32,
    pub scale: f32,
    pub out_w: u32,
    pub out_h: u32,
    cx: f32,
    cy: f32,
}

impl Frame {
    fn new(src_w: u32, src_h: u32, angle: f32, scale: f32) -> Self {
        let (s, c) = angle.sin_cos();
        let (w, h) = (src_w as f32, src_h as f32);
        let out_w = ((w * c.abs() + h * s.abs()) * scale).ceil().max(1.0) as u32;
        let out_h = ((w * s.abs() + h * c.abs()) * scale).ceil().max(1.0) as u32;
        Self { angle, scale, out_w, out_h, cx: w / 2.0, cy: h / 2.0 }
    }

    /// The original's coordinates of a point of this frame.
    fn source_of(&self, x: f32, y: f32) -> (f32, f32) {
        let u = (x - self.out_w as f32 / 2.0) / self.scale;
        let v = (y - self.out_h as f32 / 2.0) / self.scale;
        let (s, c) = self.angle.sin_cos();
        // inverse of the rotation by `angle`
        (self.cx + u * c + v * s, self.cy - u * s + v * c)
    }

    /// This frame's coordinates of a point of the original.
    fn frame_of(&self, sx: f32, sy: f32) -> (f32, f32) {
        let (dx, dy) = (sx - self.cx, sy - self.cy);
        let (s, c) = self.angle.sin_cos();
        (
            (dx * c - dy * s) * self.scale + self.out_w as f32 / 2.0,
            (dx * s + dy * c) * self.scale + self.out_h as f32 / 2.0,
        )
    }

    /// Renders the rectangle (x0, y0, w, h) of this frame, scaled by `zoom`, from the original.
    pub fn render(&self, src: &GrayImage, x0: f32, y0: f32, w: f32, h: f32, zoom: f32) -> GrayImage {
        let ow = (w * zoom).round().max(1.0) as u32;
        let oh = (h * zoom).round().max(1.0) as u32;
        let mut out = GrayImage::new(ow, oh);
        let (sw, sh) = src.dimensions();
        let raw = src.as_raw();
        for oy in 0..oh {
            for ox in 0..ow {
                let (sx, sy) = self.source_of(x0 + ox as f32 / zoom, y0 + oy as f32 / zoom);
                out.put_pixel(ox, oy, image::Luma([bilinear(raw, sw, sh, sx, sy)]));
            }
        }
        out
    }
}

fn bilinear(raw: &[u8], w: u32, h: u32, x: f32, y: f32) -> u8 {
    if !(x >= 0.0 && y >= 0.0 && x <= (w - 1) as f32 && y <= (h - 1) as f32) {
        return 255;
    }
    interpolate(raw, w, h, x, y).round().clamp(0.0, 255.0) as u8
}

/// Bilinear interpolation of a grey image at (x, y), the point clamped into the image.
pub(super) fn interpolate(raw: &[u8], w: u32, h: u32, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w as usize - 1), (y0 + 1).min(h as usize - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let w = w as usize;
    let p = |xx: usize, yy: usize| f32::from(raw[yy * w + xx]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bot = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    top * (1.0 - fy) + bot * fy
}

/// Dark-on-light mask by comparison with the local mean (window `r` pixels each side).
pub fn threshold(img: &GrayImage, r: u32, bias: f32) -> Vec<bool> {
    let (w, h) = img.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let mut integral = vec![0u64; (wu + 1) * (hu + 1)];
    let raw = img.as_raw();
    for y in 0..hu {
        let mut row = 0u64;
        for x in 0..wu {
            row += u64::from(raw[y * wu + x]);
            integral[(y + 1) * (wu + 1) + x + 1] = integral[y * (wu + 1) + x + 1] + row;
        }
    }
    let r = r as usize;
    let mut out = vec![false; wu * hu];
    for y in 0..hu {
        let (ya, yb) = (y.saturating_sub(r), (y + r + 1).min(hu));
        for x in 0..wu {
            let (xa, xb) = (x.saturating_sub(r), (x + r + 1).min(wu));
            let sum = integral[yb * (wu + 1) + xb] + integral[ya * (wu + 1) + xa]
                - integral[ya * (wu + 1) + xb]
                - integral[yb * (wu + 1) + xa];
            let n = ((yb - ya) * (xb - xa)) as f32;
            out[y * wu + x] = f32::from(raw[y * wu + x]) < sum as f32 / n * bias;
        }
    }
    out
}

/// The mask with every 8-connected component larger than a character removed (wider than `max_w` or
/// taller than `max_h`): a textured table, a page edge, stripes or the page's fine guilloche lines join into
/// long components, while OCR-B characters stay apart, so what is left is text-like ink.
pub fn character_ink(mask: &[bool], w: usize, h: usize, max_w: usize, max_h: usize) -> Vec<bool> {
    let mut label = vec![u32::MAX; w * h];
    let mut keep: Vec<bool> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    for start in 0..w * h {
        if !mask[start] || label[start] != u32::MAX {
            continue;
        }
        let id = keep.len() as u32;
        let (mut x0, mut x1, mut y0, mut y1) = (start % w, start % w, start / w, start / w);
        let mut too_big = false;
        label[start] = id;
        stack.push(start);
        members.clear();
        while let Some(p) = stack.pop() {
            members.push(p);
            let (x, y) = (p % w, p / w);
            if !too_big {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
                too_big = x1 - x0 >= max_w || y1 - y0 >= max_h;
            }
            for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let q = yy * w + xx;
                    if mask[q] && label[q] == u32::MAX {
                        label[q] = id;
                        stack.push(q);
                    }
                }
            }
        }
        keep.push(!too_big);
    }
    label.iter().map(|&l| l != u32::MAX && keep[l as usize]).collect()
}

/// The rotations (a quarter-turn multiple plus a small skew) that make text lines horizontal, best first: the
/// angle whose horizontal projection of dark pixels has the sharpest profile, refined to a quarter degree,
/// then the other peaks of that profile at least `ANGLE_PEAK_SPREAD_DEG` from it and from each other (at
/// most `ANGLE_PEAKS` in all). A page whose field column or printed lines outweigh a skewed zone has the
/// zone's angle among the later peaks.
pub(super) fn estimate_angles(mask: &[bool], w: u32, h: u32, max_skew_deg: f32) -> Vec<f32> {
    let pts: Vec<(f32, f32)> = (0..h as usize)
        .flat_map(|y| (0..w as usize).map(move |x| (x, y)))
        .filter(|&(x, y)| mask[y * w as usize + x])
        .map(|(x, y)| (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0))
        .collect();
    let diag = ((w * w + h * h) as f32).sqrt() as usize + 2;
    let score = |a: f32| -> f64 {
        let (s, c) = a.sin_cos();
        let mut bins = vec![0u32; diag];
        for &(x, y) in &pts {
            // the y coordinate after rotating by `a`
            let ry = x * s + y * c + diag as f32 / 2.0;
            if let Some(b) = bins.get_mut(ry.max(0.0) as usize) {
                *b += 1;
            }
        }
        bins.windows(2).map(|p| (f64::from(p[1]) - f64::from(p[0])).powi(2)).sum()
    };
    let mut scored: Vec<(f64, f32)> = Vec::new();
    for base in [0.0f32, 90.0] {
        let mut d = -max_skew_deg;
        while d <= max_skew_deg + 1e-3 {
            let a = (base + d).to_radians();
            scored.push((score(a), a));
            d += 1.0;
        }
    }
    // Local maxima of each base's sweep, best first.
    let per_base = scored.len() / 2;
    let mut peaks: Vec<(f64, f32)> = scored
        .iter()
        .enumerate()
        .filter(|&(i, &(sc, _))| {
            let (lo, hi) = (i / per_base * per_base, i / per_base * per_base + per_base - 1);
            (i == lo || scored[i - 1].0 <= sc) && (i == hi || scored[i + 1].0 <= sc)
        })
        .map(|(_, &p)| p)
        .collect();
    peaks.sort_by(|x, y| y.0.total_cmp(&x.0));
    let mut best = peaks.first().copied().unwrap_or((f64::MIN, 0.0));
    let centre = best.1;
    for step in [-0.75f32, -0.5, -0.25, 0.25, 0.5, 0.75] {
        let a = centre + step.to_radians();
        let sc = score(a);
        if sc > best.0 {
            best = (sc, a);
        }
    }
    let mut angles = vec![best.1];
    for (_, a) in peaks.into_iter().skip(1) {
        if angles.len() >= ANGLE_PEAKS {
            break;
        }
        if angles.iter().all(|b| (a - b).abs() >= ANGLE_PEAK_SPREAD_DEG.to_radians()) {
            angles.push(a);
        }
    }
    angles
}

/// How many angles `estimate_angles` offers, and how far apart they must be.
const ANGLE_PEAKS: usize = 3;
const ANGLE_PEAK_SPREAD_DEG: f32 = 2.5;

/// The small rotation (radians, within `max_deg`) that makes the text lines of a mask most horizontal.
fn residual_angle(mask: &[bool], w: usize, h: usize, max_deg: f32, step_deg: f32) -> f32 {
    let pts: Vec<(f32, f32)> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| mask[y * w + x])
        .map(|(x, y)| (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0))
        .collect();
    let diag = ((w * w + h * h) as f32).sqrt() as usize + 2;
    let mut best = (f64::MIN, 0.0f32);
    let steps = (max_deg / step_deg).round() as i32;
    for k in -steps..=steps {
        let a = (k as f32 * step_deg).to_radians();
        let (s, c) = a.sin_cos();
        let mut bins = vec![0u32; diag];
        for &(x, y) in &pts {
            if let Some(b) = bins.get_mut((x * s + y * c + diag as f32 / 2.0).max(0.0) as usize) {
                *b += 1;
            }
        }
        let sc: f64 = bins.windows(2).map(|p| (f64::from(p[1]) - f64::from(p[0])).powi(2)).sum();
        if sc > best.0 {
            best = (sc, a);
        }
    }
    best.1
}

/// A candidate MRZ: the frame it is upright in (possibly upside down still), and the band's rectangle.
#[derive(Clone, Debug)]
pub struct Band {
    pub frame: Frame,
    pub x0: f32,
    pub y0: f32,
    pub w: f32,
    pub h: f32,
    pub line_height: f32,
    /// The band lies in the upper half of the page: the frame is probably upside down.
    pub upper: bool,
    pub skew_deg: f32,
}

impl Band {
    /// The band cut from the original, scaled so the characters are about `TARGET_CHAR_HEIGHT` high, turned
    /// a half turn when `flip`.
    #[cfg(feature = "ocr")]
    pub fn crop(&self, src: &GrayImage, flip: bool) -> GrayImage {
        self.crop_to(src, flip, TARGET_CHAR_HEIGHT)
    }

    /// The band with its skew measured again on the band alone (the page-wide estimate is coarse, and
    /// perspective turns the MRZ's lines a little against the rest of the page), and room around it so no
    /// character at either end is cut off.
    pub fn refined(&self, src: &GrayImage) -> Band {
        let lh = self.line_height.max(4.0);
        let (mx, my) = (2.5 * lh + 0.08 * self.w, 1.2 * lh);
        let fw = self.frame.out_w as f32;
        let fh = self.frame.out_h as f32;
        let x0 = (self.x0 - mx).max(0.0);
        let y0 = (self.y0 - my).max(0.0);
        let w = (self.x0 + self.w + mx).min(fw) - x0;
        let h = (self.y0 + self.h + my).min(fh) - y0;
        // Measured at about 10 pixels a line: enough for the profile, cheap.
        let zoom = (10.0 / lh).clamp(0.2, 2.0);
        let img = self.frame.render(src, x0, y0, w, h, zoom);
        let mask = threshold(&img, 6, 0.88);
        let delta = residual_angle(&mask, img.width() as usize, img.height() as usize, 4.0, 0.2);
        let (sx, sy) = self.frame.source_of(x0 + w / 2.0, y0 + h / 2.0);
        let (sw, sh) = src.dimensions();
        let frame = Frame::new(sw, sh, self.frame.angle + delta, self.frame.scale);
        let (cx, cy) = frame.frame_of(sx, sy);
        Band { frame, x0: cx - w / 2.0, y0: cy - h / 2.0, w, h, ..self.clone() }
    }

    /// The band cut from the original with its text lines scaled to about `line_height` pixels, turned a
    /// half turn when `flip`.
    pub fn crop_to(&self, src: &GrayImage, flip: bool, line_height: f32) -> GrayImage {
        let zoom = (line_height / self.line_height.max(1.0)).clamp(0.3, 6.0);
        let img = self.frame.render(src, self.x0, self.y0, self.w, self.h, zoom);
        if flip {
            image::imageops::rotate180(&img)
        } else {
            img
        }
    }
}

struct Row {
    y: usize,
    start: usize,
    end: usize,
}

/// The MRZ candidates of an image, best first.
pub fn find_bands(src: &GrayImage) -> Vec<Band> {
    find_bands_at(src, 0.0)
}

/// Below this long side a photo cannot hold a zone the recogniser reads (44 characters of a few pixels
/// each): only the best angles are searched, not the other peaks or a quarter turn.
const WIDER_SEARCH_MIN_LONG_SIDE: u32 = 300;

/// Whether a failed search at the best angles goes on to the other peaks and the quarter turn.
pub fn wider_search(src: &GrayImage) -> bool {
    src.width().max(src.height()) >= WIDER_SEARCH_MIN_LONG_SIDE
}

/// The MRZ candidates a quarter turn from the estimated angle: on a page whose fields stand in a column, the
/// column's regular rows can outweigh the zone's two or three lines in the angle's profile.
pub fn find_bands_turned(src: &GrayImage) -> Vec<Band> {
    find_bands_at(src, std::f32::consts::FRAC_PI_2)
}

fn find_bands_at(src: &GrayImage, turn: f32) -> Vec<Band> {
    let (sw, sh) = src.dimensions();
    if sw < 40 || sh < 40 {
        return Vec::new();
    }
    let long = sw.max(sh) as f32;
    let work_scale = (WORK_LONG_SIDE / long).min(1.0);
    // Orientation on a small copy: cheap, and fine detail does not matter for the profile.
    let small_scale = 500.0 / long;
    let small = Frame::new(sw, sh, 0.0, small_scale.min(1.0));
    let small_img = small.render(src, 0.0, 0.0, small.out_w as f32, small.out_h as f32, 1.0);
    let mask = threshold(&small_img, 8, 0.85);
    let (smw, smh) = (small.out_w as usize, small.out_h as usize);
    // Text alone decides the angle and the lines first: stripes or grain on the table beside the page would
    // pull the angle off and join the zone's lines to the table. Where that finds nothing (a blurred zone
    // whose characters run together), all the ink is used, as before.
    let limit = smw.max(smh) / 16;
    let text = character_ink(&mask, smw, smh, limit, limit);
    let enough_text = text.iter().filter(|&&t| t).count() >= 200;
    let mut bands = Vec::new();
    let mut rendered: Vec<(f32, GrayImage)> = Vec::new();
    let angles = |text_only: bool| {
        let source = if text_only && enough_text { &text } else { &mask };
        estimate_angles(source, small.out_w, small.out_h, 12.0)
    };
    // The best angle by text, then by all ink; then the other peaks of each, in case a skewed zone was
    // outweighed by the rest of the page. Each profile is scored only when its turn comes.
    let (by_text, mut by_ink) = (angles(true), None);
    let mut tries = Vec::new();
    let steps = if wider_search(src) { 4 } else { 2 };
    for step in 0..steps {
        tries.clear();
        match step {
            0 => tries.extend(by_text.iter().take(1).map(|a| (true, *a))),
            1 => tries.extend(by_ink.get_or_insert_with(|| angles(false)).iter().take(1).map(|a| (false, *a))),
            2 => tries.extend(by_text.iter().skip(1).map(|a| (true, *a))),
            _ => tries.extend(by_ink.get_or_insert_with(|| angles(false)).iter().skip(1).map(|a| (false, *a))),
        }
        find_at_angles(&tries, turn, src, work_scale, &mut rendered, &mut bands);
        if !bands.is_empty() {
            break;
        }
    }
    // The MRZ is the widest block of text on its page: wider bands first (a stable sort keeps three lines
    // before two of the same width).
    bands.sort_by(|a, b| (b.w / 20.0).round().total_cmp(&(a.w / 20.0).round()));
    bands
}

/// Bands at the first of `tries` (text only or all ink, angle) where any are found, each angle tried both
/// ways up; pages rendered at an angle are kept in `rendered` for the next try.
fn find_at_angles(
    tries: &[(bool, f32)],
    turn: f32,
    src: &GrayImage,
    work_scale: f32,
    rendered: &mut Vec<(f32, GrayImage)>,
    bands: &mut Vec<Band>,
) {
    let (sw, sh) = src.dimensions();
    for &(text_only, angle) in tries {
        let angle = angle + turn;
        // The profile cannot tell a quarter turn from three quarters; both are tried.
        for extra in [0.0f32, std::f32::consts::PI] {
            let frame = Frame::new(sw, sh, angle + extra, work_scale);
            let i = match rendered.iter().position(|(a, _)| *a == angle + extra) {
                Some(i) => i,
                None => {
                    let img = frame.render(src, 0.0, 0.0, frame.out_w as f32, frame.out_h as f32, 1.0);
                    rendered.push((angle + extra, img));
                    rendered.len() - 1
                }
            };
            let mut found = bands_in(&rendered[i].1, frame, text_only);
            for b in &mut found {
                let deg = angle.to_degrees();
                b.skew_deg = deg - (deg / 90.0).round() * 90.0;
            }
            bands.extend(found);
            if !bands.is_empty() {
                break;
            }
        }
        if !bands.is_empty() {
            break;
        }
    }
}

fn bands_in(img: &GrayImage, frame: Frame, text_only: bool) -> Vec<Band> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mask = threshold(img, (w / 60).max(4) as u32, 0.88);
    // Only character-sized ink: a dark table or the page's edge next to the zone would otherwise join its
    // lines into one run too long for an MRZ (a 30-character line is at most the frame's width).
    let mask = if text_only { character_ink(&mask, w, h, (w / 5).max(8), (w / 18).max(6)) } else { mask };
    let gap = (w / 35).max(3);
    // Per row: the longest run of dark pixels once gaps up to `gap` are closed, over a few rows together
    // (a row crosses a filler `<` at two thin points only).
    let mut rows: Vec<Option<Row>> = Vec::with_capacity(h);
    let mut line = vec![false; w];
    for y in 0..h {
        line.iter_mut().for_each(|d| *d = false);
        for yy in y.saturating_sub(2)..(y + 3).min(h) {
            for (d, &m) in line.iter_mut().zip(&mask[yy * w..(yy + 1) * w]) {
                *d |= m;
            }
        }
        let mut best: Option<(usize, usize)> = None;
        let mut cur: Option<(usize, usize)> = None;
        for (x, &d) in line.iter().enumerate() {
            if d {
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
        }
        rows.push(best.and_then(|(s, e)| {
            let len = e - s;
            (len as f32 >= 0.35 * w as f32 && (len as f32) < 0.985 * w as f32).then_some(Row { y, start: s, end: e })
        }));
    }
    // Consecutive qualifying rows form text lines.
    let mut lines: Vec<(usize, usize, usize, usize)> = Vec::new(); // y0, y1, start, end (medians)
    let mut y = 0;
    while y < h {
        if rows[y].is_none() {
            y += 1;
            continue;
        }
        let y0 = y;
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut misses = 0;
        while y < h && misses <= 1 {
            match &rows[y] {
                Some(r) => {
                    starts.push(r.start);
                    ends.push(r.end);
                    misses = 0;
                }
                None => misses += 1,
            }
            y += 1;
        }
        let y1 = y - misses;
        starts.sort_unstable();
        ends.sort_unstable();
        let (s, e) = (starts[starts.len() / 2], ends[ends.len() / 2]);
        let len = (e - s) as f32;
        let height = (y1 - y0) as f32;
        // A line of 30-44 characters is about a character's height tall per 30-44 pitches of length.
        if height >= len / 44.0 * 0.55 && height <= len / 30.0 * 1.9 {
            lines.push((y0, y1, s, e));
        }
        let _ = rows.get(y1).map(|r: &Option<Row>| r.as_ref().map(|r| r.y));
    }
    // Groups of 2 or 3 lines of matching extent and spacing; the lowest group first.
    let mut out = Vec::new();
    for n in [3usize, 2] {
        for i in (0..lines.len()).rev() {
            if i + n > lines.len() {
                continue;
            }
            let group = &lines[i..i + n];
            let heights: Vec<f32> = group.iter().map(|l| (l.1 - l.0) as f32).collect();
            let hmean = heights.iter().sum::<f32>() / n as f32;
            let len0 = (group[0].3 - group[0].2) as f32;
            let ok = group.iter().all(|l| {
                let len = (l.3 - l.2) as f32;
                (len - len0).abs() <= 0.2 * len0
                    && (l.2 as f32 - group[0].2 as f32).abs() <= 0.15 * len0
                    && ((l.1 - l.0) as f32 - hmean).abs() <= 0.6 * hmean
            }) && group.windows(2).all(|p| {
                let pitch = (p[1].0 as f32 + p[1].1 as f32 - p[0].0 as f32 - p[0].1 as f32) / 2.0;
                pitch >= 1.1 * hmean && pitch <= 3.2 * hmean
            });
            if !ok {
                continue;
            }
            let x0 = group.iter().map(|l| l.2).min().unwrap_or(0) as f32;
            let x1 = group.iter().map(|l| l.3).max().unwrap_or(0) as f32;
            let y0 = group[0].0 as f32;
            let y1 = group[n - 1].1 as f32;
            let margin_x = hmean * 1.5;
            let margin_y = hmean * 0.8;
            let bx0 = (x0 - margin_x).max(0.0);
            let by0 = (y0 - margin_y).max(0.0);
            let bw = (x1 + margin_x).min(w as f32) - bx0;
            let bh = (y1 + margin_y).min(h as f32) - by0;
            out.push(Band {
                frame,
                x0: bx0,
                y0: by0,
                w: bw,
                h: bh,
                line_height: hmean,
                upper: (y0 + y1) / 2.0 < h as f32 / 2.0,
                skew_deg: 0.0,
            });
        }
    }
    out
}
