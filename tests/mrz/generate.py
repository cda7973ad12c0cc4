#!/usr/bin/env python3
"""The MRZ test set: renders document data pages (passports TD3, ID cards TD1, TD2 cards, visas MRV-A/MRV-B)
with their machine-readable zone in OCR-B, photographs them at three difficulties, and writes the images with
their ground truth (truth.jsonl). Deterministic for a given --seed. The contents are the specimen MRZs of
../shared/testdata/mrz (read at generation time, never copied into the project: some are GPL) and random valid
people. It must not read anything that changes between runs (the clock, the environment's locale).

    python3 tests/mrz/generate.py --out target/mrz-set --per-subset 100
    python3 tests/mrz/generate.py --self-test
"""

import argparse
import datetime as dt
import hashlib
import io
import json
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_digits as icao  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TESTDATA = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "testdata"))
OCRB = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"
DEJAVU = "/usr/share/fonts/truetype/dejavu/"

SPLITS = ("tune", "report")
SUBSETS = ("clean", "moderate", "hard")
# Dates are drawn around a fixed day, never today's, so the set does not change with the clock.
REFERENCE_DAY = dt.date(2026, 6, 1)

# --------------------------------------------------------------------------------------------------------
# Random valid people


GIVEN = [
    "Anna", "Maria", "José", "Lucía", "Jürgen", "Søren", "Zoë", "Mehmet", "Ayşe", "Oluwaseun", "Chiamaka",
    "Wei", "Xiaoming", "Hiroshi", "Yuki", "Priya", "Arjun", "Fatima", "Mohammed", "Thi Lan", "Minh", "Olga",
    "Dmitri", "Katarzyna", "Łukasz", "Ingrid", "Björn", "Siobhán", "Seán", "François", "Hélène", "Giulia",
    "Matteo", "João", "Conceição", "Aisha", "Kwame", "Amara", "Sipho", "Nomvula", "Ji-woo", "Min-jun",
    "Raúl", "Ximena", "Tupac", "Ahmad", "Leila", "Dariush", "Noa", "Yosef", "Aroha", "Tane", "Jean-Pierre",
    "Marie Claire", "Ana Sofía", "Mohammed Ali", "Emily", "James", "Oliver", "Chloé", "Ngozi", "Tomás",
    "Eszter", "Zoltán", "Ivana", "Miloš", "Agnieszka", "Răzvan", "Ioana", "Elif", "Burak", "Sakura", "Haruto",
    "Li Na", "Santiago", "Valentina", "Kofi", "Abena", "Pedro Henrique", "Maximilian", "Lea", "Ólafur",
]
FAMILY = [
    "Müller", "García Márquez", "O'Brien", "van der Berg", "Smith-Jones", "Kowalska", "Nakamura", "Okonkwo",
    "Al-Rashid", "dos Santos", "Nguyen", "Kim", "Petrović", "Çelik", "Jørgensen", "Åström", "Eriksson",
    "Papadopoulos", "Rossi", "Dubois", "Fernández", "Wang", "Zhang", "Patel", "Sharma", "Haddad", "Cohen",
    "Mensah", "Dlamini", "Mbeki", "Nowak", "Horváth", "Novák", "Ivanova", "Popescu", "Yılmaz", "Tanaka",
    "Suzuki", "Park", "Choi", "Silva", "Pereira", "Gonçalves", "Quispe Mamani", "Hernández", "de la Cruz",
    "Ó Súilleabháin", "MacLeod", "Williams", "Brown", "Schmidt", "Weiß", "Lefèvre", "Bianchi", "Ahmadi",
    "Hosseini", "Te Whare", "Osei", "Abubakar", "Chatterjee", "Reddy", "Tran", "Le", "Ozturk", "Kaya",
    "Lindqvist", "Virtanen", "Korhonen", "Ðorđević", "Żak", "Sørensen", "Þórsdóttir", "Bennelong",
]
PLACES = [
    "Lisboa", "Berlin", "Nairobi", "Osaka", "São Paulo", "Kraków", "Montréal", "Reykjavík", "Lagos",
    "Hà Nội", "Zürich", "Izmir", "Chennai", "Tunis", "Wellington", "Cusco", "Tallinn", "Göteborg", "Zagreb",
]
STATES = [
    ("UTO", "Utopia"), ("D", "Germany"), ("FRA", "France"), ("ESP", "Spain"), ("PRT", "Portugal"),
    ("ITA", "Italy"), ("NLD", "Netherlands"), ("BEL", "Belgium"), ("CHE", "Switzerland"), ("AUT", "Austria"),
    ("POL", "Poland"), ("SWE", "Sweden"), ("FIN", "Finland"), ("NOR", "Norway"), ("DNK", "Denmark"),
    ("IRL", "Ireland"), ("GBR", "United Kingdom"), ("USA", "United States"), ("CAN", "Canada"),
    ("MEX", "Mexico"), ("BRA", "Brazil"), ("ARG", "Argentina"), ("PER", "Peru"), ("NGA", "Nigeria"),
    ("GHA", "Ghana"), ("KEN", "Kenya"), ("ZAF", "South Africa"), ("EGY", "Egypt"), ("MAR", "Morocco"),
    ("TUR", "Türkiye"), ("IRN", "Iran"), ("IND", "India"), ("PAK", "Pakistan"), ("CHN", "China"),
    ("JPN", "Japan"), ("KOR", "Korea"), ("VNM", "Viet Nam"), ("PHL", "Philippines"), ("AUS", "Australia"),
    ("NZL", "New Zealand"), ("UKR", "Ukraine"), ("SRB", "Serbia"), ("HRV", "Croatia"), ("ROU", "Romania"),
    ("HUN", "Hungary"), ("CZE", "Czechia"), ("ISL", "Iceland"), ("EST", "Estonia"), ("ISR", "Israel"),
]
STATE_NAME = dict(STATES)
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# How often each format appears, and how often a specimen is used instead of a random person.
FORMAT_WEIGHTS = [("TD3", 40), ("TD1", 25), ("TD2", 10), ("MRVA", 15), ("MRVB", 10)]
SPECIMEN_SHARE = 0.2


def _rand_date(rng, start, end):
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _yymmdd(d):
    return d.strftime("%y%m%d")


def _name(rng, pool, max_parts):
    parts = [rng.choice(pool)]
    while len(parts) < max_parts and rng.random() < 0.25:
        extra = rng.choice(pool)
        if extra not in parts:
            parts.append(extra)
    return " ".join(parts)


def _document_number(rng, fmt):
    kind = rng.randrange(4)
    if kind == 0:
        n = rng.choice(LETTERS) + "".join(rng.choice(DIGITS) for _ in range(7)) + rng.choice(ALNUM)
    elif kind == 1:
        n = "".join(rng.choice(LETTERS) for _ in range(2)) + "".join(rng.choice(DIGITS) for _ in range(7))
    elif kind == 2:
        n = "".join(rng.choice(DIGITS) for _ in range(9))
    else:
        n = "".join(rng.choice(ALNUM) for _ in range(rng.choice((8, 9))))
    return n


def _optional(rng, n, share):
    if rng.random() >= share:
        return ""
    length = rng.randint(max(1, n // 2), n)
    return "".join(rng.choice(DIGITS if rng.random() < 0.7 else ALNUM) for _ in range(length))


def random_person(rng, fmt):
    """Fields for compose() plus the printed (visual zone) values."""
    state, _ = rng.choice(STATES)
    nat = state if rng.random() < 0.85 else rng.choice(STATES)[0]
    sex = rng.choices(["M", "F", "X"], [48, 48, 4])[0]
    dob = _rand_date(rng, dt.date(1940, 1, 1), dt.date(2008, 12, 31))
    expiry = _rand_date(rng, REFERENCE_DAY + dt.timedelta(days=90), REFERENCE_DAY + dt.timedelta(days=3650))
    years = 10 if fmt in ("TD3", "TD1", "TD2") else 1
    issue = expiry.replace(year=expiry.year - years) if not (expiry.month == 2 and expiry.day == 29) else \
        expiry.replace(year=expiry.year - years, day=28)
    surname = _name(rng, FAMILY, 2)
    given = _name(rng, GIVEN, 3)
    code = {
        "TD3": rng.choices(["P<", "PO", "PD", "PS"], [85, 5, 5, 5])[0],
        "TD1": rng.choices(["ID", "I<", "IR", "A<", "C<"], [50, 30, 10, 5, 5])[0],
        "TD2": rng.choices(["I<", "ID", "IR", "A<"], [50, 30, 10, 10])[0],
        "MRVA": rng.choices(["V<", "VN", "VI", "VD"], [70, 10, 10, 10])[0],
        "MRVB": rng.choices(["V<", "VC", "VD"], [70, 15, 15])[0],
    }[fmt]
    opt_len = {"TD3": 14, "TD1": 15, "TD2": 7, "MRVA": 16, "MRVB": 8}[fmt]
    fields = {
        "document_code": code,
        "issuing_state": state,
        "surname": surname,
        "given_names": given,
        "document_number": _document_number(rng, fmt),
        "nationality": nat,
        "date_of_birth": _yymmdd(dob),
        "sex": "<" if sex == "X" else sex,
        "expiry_date": _yymmdd(expiry),
        "optional_data_1": _optional(rng, opt_len, 0.4),
        "optional_data_2": _optional(rng, 11, 0.3) if fmt == "TD1" else "",
    }
    viz = {
        "surname": surname, "given_names": given, "sex": sex, "dob": dob, "expiry": expiry, "issue": issue,
        "place": rng.choice(PLACES), "nationality": STATE_NAME[nat].upper(),
    }
    lines = icao.compose(fmt, fields, empty_personal_number_check=rng.choice("<0"))
    return lines, viz


def _mrz_date(yymmdd, future):
    """A printable date for the visual zone; the century is whatever makes a plausible person/document."""
    try:
        yy, mm, dd = int(yymmdd[0:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
        year = 2000 + yy if (future or 2000 + yy < REFERENCE_DAY.year) else 1900 + yy
        return dt.date(year, mm, dd)
    except ValueError:
        return None


def specimen_viz(rng, fields):
    return {
        "surname": fields["surname"].title(), "given_names": fields["given_names"].title(),
        "sex": fields["sex"] or "X",
        "dob": _mrz_date(fields["date_of_birth"], False), "expiry": _mrz_date(fields["expiry_date"], True),
        "issue": None, "place": rng.choice(PLACES),
        "nationality": STATE_NAME.get(fields["nationality"], fields["nationality"]).upper(),
    }


def load_specimens(testdata):
    """The usable specimens (well-formed, every check digit valid), deduplicated, each assigned to one split
    by a hash of its lines so that no MRZ appears in both splits."""
    path = os.path.join(testdata, "mrz", "mrz_vectors.json")
    with open(path, encoding="utf-8") as fh:
        vectors = json.load(fh)["vectors"]
    seen, out = set(), {s: {} for s in SPLITS}
    for v in vectors:
        key = "\n".join(v["lines"])
        if key in seen:
            continue
        seen.add(key)
        try:
            fmt, fields, checks = icao.parse(v["lines"])
        except ValueError:
            continue
        if not all(checks.values()):
            continue
        split = SPLITS[hashlib.sha256(key.encode()).digest()[0] % 2]
        out[split].setdefault(fmt, []).append((v["id"], v["lines"]))
    return out


# --------------------------------------------------------------------------------------------------------
# Rendering the data page (at 12 px/mm, about 300 dpi)

PX_PER_MM = 12.0
PAGE_MM = {"TD3": (125.0, 88.0), "MRVA": (120.0, 80.0), "TD2": (105.0, 74.0), "MRVB": (105.0, 74.0),
           "TD1": (85.6, 54.0)}
MRZ_PITCH_MM = 2.54  # 10 characters per inch (9303 part 3)
_FONTS = {}


def font(name, px):
    key = (name, int(px))
    if key not in _FONTS:
        from PIL import ImageFont
        path = OCRB if name == "ocrb" else os.path.join(DEJAVU, name)
        _FONTS[key] = ImageFont.truetype(path, int(px))
    return _FONTS[key]


def mm(v):
    return int(round(v * PX_PER_MM))


def _hsv(h, s, v):
    import colorsys
    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def guilloche(w, h, nrng, hue):
    """A security-print-like background: a pale tint, two families of fine wavy lines and a rosette."""
    import numpy as np
    from PIL import Image
    sw, sh = w // 2, h // 2
    y, x = np.mgrid[0:sh, 0:sw].astype(np.float32)
    base = np.array(_hsv(hue, nrng.uniform(0.05, 0.14), nrng.uniform(0.93, 0.99)), np.float32)
    img = np.ones((sh, sw, 3), np.float32) * base
    # a soft diagonal tint gradient, as printed pages have
    t = (x / sw * math.cos(nrng.uniform(0, 6.3)) + y / sh * math.sin(nrng.uniform(0, 6.3)))
    img *= (1.0 - 0.04 * t)[..., None]
    for k in range(3):
        colour = np.array(_hsv(hue + nrng.uniform(-0.15, 0.15), nrng.uniform(0.25, 0.5),
                               nrng.uniform(0.6, 0.85)), np.float32)
        if k < 2:
            ang = nrng.uniform(0, math.pi)
            u = x * math.cos(ang) + y * math.sin(ang)
            v = -x * math.sin(ang) + y * math.cos(ang)
            phase = u / nrng.uniform(5, 9) + nrng.uniform(1.5, 4) * np.sin(v / nrng.uniform(20, 45)
                                                                            + nrng.uniform(0, 6.3))
        else:
            cx, cy = nrng.uniform(0.2, 0.8) * sw, nrng.uniform(0.2, 0.8) * sh
            r = np.hypot(x - cx, y - cy)
            th = np.arctan2(y - cy, x - cx)
            phase = r / nrng.uniform(4, 7) + nrng.uniform(1, 3) * np.sin(th * nrng.integers(8, 24))
        f = phase - np.floor(phase)
        d = np.minimum(f, 1 - f)
        line = np.clip(1 - d / 0.12, 0, 1) * nrng.uniform(0.25, 0.45)
        img = img * (1 - line[..., None]) + colour * line[..., None]
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return im.resize((w, h), Image.BILINEAR)


def _date_text(d):
    if d is None:
        return ""
    return f"{d.day:02d} {MONTHS[d.month - 1]} {d.year}"


def _face(page, x0, y0, x1, y1, shade):
    """A grey placeholder where the holder's portrait would be: a head and shoulders, cut by the frame."""
    from PIL import Image, ImageDraw
    w, h = x1 - x0, y1 - y0
    box = Image.new("RGB", (w, h), (shade, shade, shade))
    d = ImageDraw.Draw(box)
    light = (min(255, shade + 45),) * 3
    d.ellipse((w * 0.3, h * 0.12, w * 0.7, h * 0.58), fill=light)
    d.ellipse((w * 0.08, h * 0.64, w * 0.92, h * 1.45), fill=light)
    page.paste(box, (x0, y0))


def render_page(fmt, lines, viz, fields, rng, nrng):
    from PIL import Image, ImageDraw
    wmm, hmm = PAGE_MM[fmt]
    w, h = mm(wmm), mm(hmm)
    hue = rng.random()
    page = guilloche(w, h, nrng, hue)
    draw = ImageDraw.Draw(page)
    ink = _hsv(hue + 0.5, 0.35, rng.uniform(0.25, 0.4))
    label_ink = _hsv(hue, 0.5, 0.45)
    text_ink = (rng.randint(10, 35),) * 3

    n_lines = len(lines)
    line_gap = 4.2 if n_lines == 2 else 3.7
    bottom_mm = rng.uniform(3.6, 5.0) if fmt != "TD1" else rng.uniform(2.6, 3.4)
    mrz_top_mm = hmm - bottom_mm - line_gap * (n_lines - 1) - 3.5

    # the MRZ clear area is printed plainer than the rest of the page
    tint = tuple(min(255, int(c * 1.03)) for c in page.resize((1, 1), Image.BOX).getpixel((0, 0)))
    clear = Image.new("RGB", (w, mm(hmm - mrz_top_mm + 1)), tint)
    page.paste(Image.blend(page.crop((0, mm(mrz_top_mm - 1), w, h)), clear, 0.6), (0, mm(mrz_top_mm - 1)))

    label = font("DejaVuSans.ttf", mm(1.45))
    value = font("DejaVuSans-Bold.ttf", mm(2.3))
    head = font("DejaVuSans-Bold.ttf", mm(3.2))
    small = font("DejaVuSansCondensed.ttf", mm(1.8))
    state = fields["issuing_state"]
    state_name = STATE_NAME.get(state, state).upper()

    def field(x, y, lab, val):
        draw.text((mm(x), mm(y)), lab, font=label, fill=label_ink)
        draw.text((mm(x), mm(y + 1.8)), val, font=value, fill=text_ink)

    if fmt == "TD1":
        # the back of an identity card: details, a small ghost portrait, then the MRZ
        draw.text((mm(4), mm(3)), f"{state_name}  ·  IDENTITY CARD", font=small, fill=ink)
        field(4, 7.5, "Place of birth / Lieu de naissance", viz["place"])
        field(4, 13.5, "Date of issue / Date de délivrance", _date_text(viz["issue"]))
        field(4, 19.5, "Authority / Autorité", f"{state_name[:18]} {rng.randint(1, 99)}")
        field(48, 7.5, "Height / Taille", f"{rng.randint(150, 199)} cm")
        _face(page, mm(66), mm(11), mm(80), mm(27), rng.randint(175, 205))
    else:
        title = {"TD3": "PASSPORT  ·  PASSEPORT", "TD2": "IDENTITY CARD  ·  CARTE D'IDENTITÉ",
                 "MRVA": "VISA", "MRVB": "VISA"}[fmt]
        draw.text((mm(4), mm(2.5)), state_name, font=small, fill=ink)
        draw.text((mm(4), mm(5)), title, font=head, fill=ink)
        top = 11.0
        face_w = 28.0 if fmt in ("TD3", "MRVA") else 24.0
        face_h = min(face_w * 1.3, mrz_top_mm - top - 2)
        _face(page, mm(4), mm(top), mm(4 + face_w), mm(top + face_h), rng.randint(150, 200))
        x = 4 + face_w + 4
        col2 = x + (wmm - x) * 0.52
        step = min(6.4, (mrz_top_mm - top - 1) / 7)
        doc_no = fields["document_number"]
        field(x, top, "Type", fields["document_code"].replace("<", ""))
        field(x + 14, top, "Code", state)
        field(col2, top, "Document No.", doc_no)
        field(x, top + step, "Surname / Nom", viz["surname"])
        field(x, top + 2 * step, "Given names / Prénoms", viz["given_names"])
        field(x, top + 3 * step, "Nationality / Nationalité", viz["nationality"][:22])
        field(x, top + 4 * step, "Date of birth", _date_text(viz["dob"]))
        field(col2, top + 4 * step, "Sex / Sexe", viz["sex"])
        field(x, top + 5 * step, "Place of birth", viz["place"])
        field(col2, top + 5 * step, "Date of expiry", _date_text(viz["expiry"]))
        field(x, top + 6 * step, "Date of issue", _date_text(viz["issue"]))
        field(col2, top + 6 * step, "Authority", f"{state_name[:14]} {rng.randint(1, 99)}")
        # a signature-like stroke
        sx, sy = mm(col2), mm(top + step * 2.2)
        pts = [(sx + i * 6, sy + int(8 * math.sin(i * 0.7 + rng.random()))) for i in range(30)]
        draw.line(pts, fill=(40, 40, 90), width=2)

    # the MRZ in OCR-B at 10 characters per inch
    pitch = mm(MRZ_PITCH_MM)
    ocr = font("ocrb", pitch / 0.723)  # OCR-B's advance is 0.723 em
    width = len(lines[0]) * MRZ_PITCH_MM
    left = (wmm - width) / 2 + rng.uniform(-0.8, 0.8)
    mrz_ink = (rng.randint(0, 30),) * 3
    for i, text in enumerate(lines):
        base = hmm - bottom_mm - line_gap * (n_lines - 1 - i)
        draw.text((mm(left), mm(base)), text, font=ocr, fill=mrz_ink, anchor="ls")
    return page


# --------------------------------------------------------------------------------------------------------
# Photographing it


def _perspective_coeffs(dst, src):
    """PIL's PERSPECTIVE coefficients mapping output points dst to input points src."""
    import numpy as np
    a, b = [], []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    return np.linalg.solve(np.array(a, float), np.array(b, float)).tolist()


def _surface(w, h, rng, nrng):
    """A table or cloth under the document: a colour, slow blotches and fine grain."""
    import numpy as np
    from PIL import Image
    colour = np.array(rng.choice([(120, 85, 55), (150, 110, 75), (90, 90, 95), (200, 200, 195),
                                  (40, 45, 60), (170, 160, 140), (60, 70, 55), (230, 228, 220)]), np.float32)
    low = nrng.normal(0, 1, (8, 8)).astype(np.float32)
    low = np.array(Image.fromarray(low).resize((w, h), Image.BICUBIC))
    img = colour * (1 + 0.08 * low[..., None])
    if rng.random() < 0.5:  # wood grain
        y = np.arange(h, dtype=np.float32)[:, None]
        x = np.arange(w, dtype=np.float32)[None, :]
        grain = np.sin(y / rng.uniform(3, 9) + 2 * np.sin(x / rng.uniform(80, 200)))
        img *= (1 + 0.05 * grain)[..., None]
    img += 4 * nrng.standard_normal((h, w, 1), dtype=np.float32)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


PROFILES = {
    # long side of the photo, share of the frame the document fills, skew, perspective, blur radius,
    # noise sigma, light level and range, JPEG quality
    "moderate": dict(long=(1450, 1750), fill=(0.62, 0.85), skew=4.0, persp=0.05, blur=(0.3, 0.9),
                     noise=(2.0, 5.0), light=(0.85, 1.05), grad=(0.15, 0.35), jpeg=(55, 90)),
    "hard": dict(long=(900, 1100), fill=(0.6, 0.85), skew=10.0, persp=0.10, blur=(0.7, 1.5),
                 noise=(4.0, 9.0), light=(0.5, 0.72), grad=(0.25, 0.5), jpeg=(35, 60)),
}


def photograph(page, subset, rng, nrng):
    """The page as a phone would photograph it; returns (RGB image, what was done to it)."""
    import numpy as np
    from PIL import Image, ImageFilter
    if subset == "clean":
        margin = int(page.width * rng.uniform(0.02, 0.05))
        out = Image.new("RGB", (page.width + 2 * margin, page.height + 2 * margin), (250, 250, 248))
        out.paste(page, (margin, margin))
        return out, {"quarter_turns_ccw": 0, "jpeg_quality": 95}

    p = PROFILES[subset]
    long_side = rng.randint(*p["long"])
    W, H = long_side, int(long_side * 0.75)
    fill = rng.uniform(*p["fill"])
    scale = fill * W / page.width
    if page.height * scale > 0.9 * H:
        scale = 0.9 * H / page.height
    pw, ph = int(page.width * scale), int(page.height * scale)
    small = page.resize((pw, ph), Image.LANCZOS).convert("RGBA")

    skew = rng.uniform(-p["skew"], p["skew"])
    # keystone: the edge further from the camera is shorter, in both directions
    kx, ky = rng.uniform(-p["persp"], p["persp"]), rng.uniform(-p["persp"], p["persp"])
    corners = [(-pw / 2 * (1 - ky), -ph / 2 * (1 - kx)), (pw / 2 * (1 - ky), -ph / 2 * (1 + kx)),
               (pw / 2 * (1 + ky), ph / 2 * (1 + kx)), (-pw / 2 * (1 + ky), ph / 2 * (1 - kx))]
    c, s = math.cos(math.radians(skew)), math.sin(math.radians(skew))
    rot = [(x * c - y * s, x * s + y * c) for x, y in corners]
    rot = [(x + rng.uniform(-1, 1) * p["persp"] * pw * 0.15, y + rng.uniform(-1, 1) * p["persp"] * ph * 0.15)
           for x, y in rot]
    span_x = max(x for x, _ in rot) - min(x for x, _ in rot)
    span_y = max(y for _, y in rot) - min(y for _, y in rot)
    shrink = min(1.0, 0.96 * W / span_x, 0.96 * H / span_y)
    rot = [(x * shrink, y * shrink) for x, y in rot]
    free_x = (W - span_x * shrink) / 2
    free_y = (H - span_y * shrink) / 2
    cx = W / 2 + rng.uniform(-free_x, free_x) * 0.8
    cy = H / 2 + rng.uniform(-free_y, free_y) * 0.8
    dst = [(x + cx, y + cy) for x, y in rot]
    src = [(0, 0), (pw, 0), (pw, ph), (0, ph)]
    warped = small.transform((W, H), Image.PERSPECTIVE, _perspective_coeffs(dst, src), Image.BICUBIC)

    scene = _surface(W, H, rng, nrng).convert("RGBA")
    # a soft shadow under the document (blurred small: it is soft anyway)
    alpha = warped.getchannel("A").resize((W // 4, H // 4), Image.BILINEAR)
    alpha = alpha.filter(ImageFilter.GaussianBlur(W / 600)).resize((W, H), Image.BILINEAR)
    shadow = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    shadow.putalpha(alpha.point(lambda a: int(a * 0.45)))
    off = int(W / 250)
    scene.alpha_composite(shadow, (off, off))
    scene.alpha_composite(warped)
    img = np.asarray(scene.convert("RGB"), dtype=np.float32)

    # uneven light: a level, a linear gradient and a vignette; a colour cast in poor light
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    ang = rng.uniform(0, 2 * math.pi)
    lin = ((x / W - 0.5) * math.cos(ang) + (y / H - 0.5) * math.sin(ang))
    vig = ((x / W - 0.5) ** 2 + (y / H - 0.5) ** 2)
    light = rng.uniform(*p["light"]) * (1 + rng.uniform(*p["grad"]) * lin) * (1 - rng.uniform(0.1, 0.4) * vig)
    img *= light[..., None]
    if subset == "hard":
        img *= np.array([1.0, rng.uniform(0.9, 0.97), rng.uniform(0.75, 0.9)], np.float32)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    blur = rng.uniform(*p["blur"])
    out = out.filter(ImageFilter.GaussianBlur(blur))
    sigma = rng.uniform(*p["noise"])
    arr = np.array(out, dtype=np.float32)
    arr += sigma * nrng.standard_normal((H, W, 1), dtype=np.float32)
    arr += (sigma * 0.4) * nrng.standard_normal((H, W, 3), dtype=np.float32)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    turns = rng.randrange(4)
    if turns:
        out = out.transpose([None, Image.ROTATE_90, Image.ROTATE_180, Image.ROTATE_270][turns])
    return out, {"quarter_turns_ccw": turns, "skew_deg": round(skew, 2), "keystone": [round(kx, 3), round(ky, 3)],
                 "blur_px": round(blur, 2), "noise_sigma": round(sigma, 2), "long_side": long_side,
                 "document_width_px": int(span_x * shrink), "jpeg_quality": rng.randint(*p["jpeg"])}


# --------------------------------------------------------------------------------------------------------
# The set


def _seed_for(*parts):
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def make_one(args):
    import numpy as np
    seed, split, subset, index, specimens, out = args
    rng = random.Random(_seed_for(seed, split, subset, index))
    nrng = np.random.default_rng(_seed_for(seed, split, subset, index, "pixels"))
    fmt = rng.choices([f for f, _ in FORMAT_WEIGHTS], [w for _, w in FORMAT_WEIGHTS])[0]
    pool = specimens.get(split, {}).get(fmt, [])
    if pool and rng.random() < SPECIMEN_SHARE:
        source, lines = rng.choice(pool)
        lines = list(lines)
        _, fields, _ = icao.parse(lines)
        viz = specimen_viz(rng, fields)
        source = f"specimen:{source}"
    else:
        lines, viz = random_person(rng, fmt)
        source = "generated"
    parsed_fmt, fields, checks = icao.parse(lines)
    assert parsed_fmt == fmt and all(checks.values()), (lines, checks)
    page = render_page(fmt, lines, viz, fields, rng, nrng)
    img, render = photograph(page, subset, rng, nrng)
    rel = f"{split}/{subset}/{index:04d}.jpg"
    path = os.path.join(out, rel)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=render["jpeg_quality"])
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())
    # what the visual zone shows, for readers of the printed fields (dates as printed, ISO here)
    printed = {"surname": viz["surname"], "given_names": viz["given_names"], "nationality": viz["nationality"],
               "sex": viz["sex"], "place_of_birth": viz["place"]}
    for key, name in (("dob", "date_of_birth"), ("expiry", "expiry_date"), ("issue", "issue_date")):
        printed[name] = viz[key].isoformat() if viz[key] else None
    return {"file": rel, "split": split, "subset": subset, "format": fmt, "source": source, "mrz": lines,
            "fields": fields, "printed": printed, "width": img.width, "height": img.height, "render": render}


def generate(out, per_subset, seed, testdata, jobs, splits=SPLITS, subsets=SUBSETS):
    specimens = load_specimens(testdata)
    tasks = []
    for split in splits:
        for subset in subsets:
            os.makedirs(os.path.join(out, split, subset), exist_ok=True)
            for i in range(per_subset):
                tasks.append((seed, split, subset, i, specimens, out))
    started = time.time()
    if jobs > 1:
        from multiprocessing import Pool
        with Pool(jobs) as pool:
            records = pool.map(make_one, tasks, chunksize=4)
    else:
        records = [make_one(t) for t in tasks]
    with open(os.path.join(out, "truth.jsonl"), "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, sort_keys=True) + "\n")
    with open(os.path.join(out, "README.txt"), "w", encoding="utf-8") as fh:
        fh.write(f"Generated by tests/mrz/generate.py --seed {seed} --per-subset {per_subset}; "
                 "see tests/mrz/README.md.\n")
    n_spec = sum(1 for r in records if r["source"] != "generated")
    print(f"{len(records)} images ({n_spec} from specimens) in {out} in {time.time() - started:.1f}s")


# --------------------------------------------------------------------------------------------------------
# Self-test: the ICAO worked examples round-trip through the composer and the check digits


def self_test(testdata):
    passed, failed = 0, []

    def ok(cond, what):
        nonlocal passed
        if cond:
            passed += 1
        else:
            failed.append(what)

    with open(os.path.join(testdata, "mrz", "mrz_icao_worked_examples.json"), encoding="utf-8") as fh:
        worked = json.load(fh)
    for v in worked["check_digit_vectors"]:
        got = icao.check_digit(v["field"])
        if "expected_check_digit" in v:
            ok(got == str(v["expected_check_digit"]), f"check digit {v['field']}: {got}")
        elif "expected_not" in v:
            ok(got != str(v["expected_not"]), f"check digit {v['field']} must not be {v['expected_not']}")
        else:
            ok((got == v["given_check_digit"]) == v["expected_valid"], f"check digit {v['field']}: {got}")
    for v in worked["composite_vectors"]:
        joined = "".join(v["lines"])
        composite = "".join(joined[a:b] for a, b in v["ranges"])
        ok(composite == v["expected_composite_input"], f"composite input {v['source']}")
        total = sum(icao.char_value(c) * (7, 3, 1)[i % 3] for i, c in enumerate(composite))
        ok(total == v["expected_sum"] and icao.check_digit(composite) == str(v["expected_digit"]),
           f"composite digit {v['source']}")
    widths = {"TD3_NAME_VECTORS": ("PPUTO", 39), "TD1_NAME_VECTORS": ("", 30), "TD2_NAME_VECTORS": ("I<UTO", 31),
              "MRV_A_NAME_VECTORS": ("V<UTO", 39), "MRV_B_NAME_VECTORS": ("V<UTO", 31)}
    for group, (prefix, width) in widths.items():
        for v in worked["name_encoding_vectors"][group]:
            primary, _, secondary = v["viz"].partition(",")
            line = prefix + icao.encode_name(primary, secondary.strip(), width)
            ok(line == v["expected_line"], f"name {v['viz']!r} ({group}): {line}")
            # and back: the parsed name is the printed one wherever nothing was truncated
            s, g = icao.split_name(line[len(prefix):])
            if len(line) == len(v["expected_line"]) and "truncat" not in v["source"] \
                    and "cut short" not in v["source"]:
                ok((s, g) == (icao.normalise(primary.replace("-", " ").replace("'", "")),
                              icao.normalise(secondary.replace("-", " "))), f"name parse {v['viz']!r}: {s}|{g}")
    # every usable specimen: parse, compose from the fields, get the same lines back (Belgian legacy digits
    # excepted: they are computed with the filler, which the composer never does)
    with open(os.path.join(testdata, "mrz", "mrz_vectors.json"), encoding="utf-8") as fh:
        vectors = json.load(fh)["vectors"]
    for v in vectors:
        try:
            fmt, fields, checks = icao.parse(v["lines"])
        except ValueError:
            continue
        expected = v["consensus"]["check_digits_all_valid"]
        if expected is not None:
            ok(all(checks.values()) == expected, f"specimen {v['id']} validity")
        if all(checks.values()) and fields["issuing_state"] != "BEL":
            ok(v["lines"] in (icao.compose(fmt, fields, "<"), icao.compose(fmt, fields, "0")),
               f"specimen {v['id']} round trip")
    # random people: composed lines parse back to the same fields with every check digit valid
    rng = random.Random(9303)
    for i in range(500):
        fmt = rng.choice(list(icao.FORMATS))
        lines, viz = random_person(rng, fmt)
        pfmt, fields, checks = icao.parse(lines)
        ok(pfmt == fmt and all(checks.values()) and fields["surname"] == icao.normalise(icao.transliterate(
            viz["surname"]))[:len(fields["surname"])], f"random {fmt} {lines}")
    for f in failed:
        print("FAILED:", f)
    print(f"{passed} passed, {len(failed)} failed")
    return not failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="target/mrz-set")
    ap.add_argument("--per-subset", type=int, default=100, help="images per subset per split")
    ap.add_argument("--seed", type=int, default=9303)
    ap.add_argument("--testdata", default=DEFAULT_TESTDATA, help="the shared testdata folder")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (the output does not depend on it)")
    ap.add_argument("--splits", default=",".join(SPLITS),
                    help="comma-separated splits to draw (image N is the same whatever else is drawn)")
    ap.add_argument("--subsets", default=",".join(SUBSETS), help="comma-separated subsets to draw")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        sys.exit(0 if self_test(a.testdata) else 1)
    splits, subsets = a.splits.split(","), a.subsets.split(",")
    unknown = [x for x in splits if x not in SPLITS] + [x for x in subsets if x not in SUBSETS]
    if unknown:
        ap.error(f"unknown split or subset: {', '.join(unknown)}")
    generate(a.out, a.per_subset, a.seed, a.testdata, a.jobs, splits, subsets)


if __name__ == "__main__":
    main()
