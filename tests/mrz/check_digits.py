"""ICAO 9303 machine-readable zones for the MRZ test set: check digits, name encoding, composing lines from
fields and parsing lines back into fields. Owns the ground-truth semantics of tests/mrz/ (generate.py and
passporteye_eval.py both use it); it must not depend on anything outside the Python standard library.

Field semantics follow ICAO 9303 and idv's own parser (src/checks/mrz.rs): a TD1/TD2 document number longer
than 9 characters is "extended" (a `<` where its check digit would be, the rest of the number and its check
digit at the start of the optional data) and is reported whole, with the optional data after it.
"""

import unicodedata

FORMATS = {
    # format: (lines, width, name-field width)
    "TD1": (3, 30, 30),
    "TD2": (2, 36, 31),
    "TD3": (2, 44, 39),
    "MRVA": (2, 44, 39),
    "MRVB": (2, 36, 31),
}

ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")


def char_value(c):
    if c.isdigit():
        return int(c)
    if "A" <= c <= "Z":
        return ord(c) - ord("A") + 10
    if c == "<":
        return 0
    raise ValueError(f"not an MRZ character: {c!r}")


def check_digit(field):
    """The 7-3-1 weighted check digit of a field, as a character."""
    return str(sum(char_value(c) * (7, 3, 1)[i % 3] for i, c in enumerate(field)) % 10)


# Transliteration of printed names (9303 part 3, section 6): the letters with their own recommended
# spelling; everything else loses its diacritics.
_TRANSLIT = {
    "Ä": "AE", "Ö": "OE", "Ü": "UE", "Å": "AA", "Æ": "AE", "Ø": "OE", "ß": "SS", "Œ": "OE", "Þ": "TH",
    "Ð": "D", "Đ": "D", "Ł": "L", "Ħ": "H", "Ĳ": "IJ", "ẞ": "SS",
}


def transliterate(text):
    out = []
    for ch in text.upper():
        if ch in _TRANSLIT:
            out.append(_TRANSLIT[ch])
        elif "A" <= ch <= "Z":
            out.append(ch)
        elif ch in " -,":
            out.append("<")
        elif ch in "'’.":
            continue
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append("".join(c for c in base if "A" <= c <= "Z"))
    return "".join(out)


def _components(name):
    return [c for c in transliterate(name).split("<") if c]


def encode_name(primary, secondary, width):
    """The name field: primary identifier, `<<`, secondary identifier, truncated as 9303 part 4 section 4.2.3
    shows: the secondary identifier is cut at the field's end when the primary leaves room for it; otherwise
    the secondary is reduced to its first component and the primary's later components are shortened evenly
    (its first component kept whole) so that `<<` and the secondary survive."""
    p = _components(primary)
    s = _components(secondary or "")
    prim = "<".join(p)
    sec = "<".join(s)
    full = prim + ("<<" + sec if sec else "")
    if len(full) <= width:
        return full.ljust(width, "<")
    if len(prim) + 2 < width:
        return full[:width]
    sec = s[0] if s else ""
    room = width - 2 - len(sec) if sec else width
    letters = room - (len(p) - 1)
    rest = p[1:]
    budget = letters - len(p[0])
    if rest and budget >= len(rest):
        share, extra = divmod(budget, len(rest))
        rest = [c[: share + (1 if i < extra else 0)] for i, c in enumerate(rest)]
        prim = "<".join([p[0]] + rest)
    else:
        prim = prim[:room]
    return (prim + ("<<" + sec if sec else "")).ljust(width, "<")[:width]


def _pad(value, n):
    value = value or ""
    if len(value) > n:
        raise ValueError(f"{value!r} longer than {n}")
    return value.ljust(n, "<")


def _code3(code):
    return _pad(code, 3)


def _number_and_optional(number, optional):
    """TD1/TD2: the 9-character number field, its check digit and the optional data, with an extended number
    spilling into the optional data."""
    if len(number) <= 9:
        return _pad(number, 9), check_digit(_pad(number, 9)), optional
    head, tail = number[:9], number[9:]
    spill = tail + check_digit(number)
    return head, "<", spill + "<" + optional if optional else spill


def compose(fmt, f, empty_personal_number_check="<"):
    """MRZ lines from fields (the keys of `parse`'s result). Raises ValueError when a field does not fit.
    An empty TD3 personal number's check digit is `<` or `0` (both are in use)."""
    n_lines, width, name_w = FORMATS[fmt]
    code = _pad(f["document_code"], 2)
    state = _code3(f["issuing_state"])
    nat = _code3(f["nationality"])
    dob, exp = f["date_of_birth"], f["expiry_date"]
    sex = f["sex"] or "<"
    opt1, opt2 = f.get("optional_data_1", ""), f.get("optional_data_2", "")
    name = encode_name(f["surname"], f["given_names"], name_w)
    if fmt == "TD1":
        num, num_cd, opt1 = _number_and_optional(f["document_number"], opt1)
        l1 = code + state + num + num_cd + _pad(opt1, 15)
        l2 = dob + check_digit(dob) + sex + exp + check_digit(exp) + nat + _pad(opt2, 11)
        l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
        return [l1, l2, name]
    if fmt == "TD2":
        num, num_cd, opt1 = _number_and_optional(f["document_number"], opt1)
        l1 = code + state + name
        l2 = num + num_cd + nat + dob + check_digit(dob) + sex + exp + check_digit(exp) + _pad(opt1, 7)
        l2 += check_digit(l2[0:10] + l2[13:20] + l2[21:35])
        return [l1, l2]
    if fmt == "TD3":
        num = _pad(f["document_number"], 9)
        pn = _pad(opt1, 14)
        pn_cd = empty_personal_number_check if pn == "<" * 14 else check_digit(pn)
        l1 = code + state + name
        l2 = num + check_digit(num) + nat + dob + check_digit(dob) + sex + exp + check_digit(exp) + pn + pn_cd
        l2 += check_digit(l2[0:10] + l2[13:20] + l2[21:43])
        return [l1, l2]
    # MRV-A / MRV-B: no composite digit; the optional data fills the line.
    num = _pad(f["document_number"], 9)
    l1 = code + state + name
    l2 = num + check_digit(num) + nat + dob + check_digit(dob) + sex + exp + check_digit(exp)
    l2 += _pad(opt1, width - 28)
    return [l1, l2]


def guess_format(lines):
    if len(lines) == 3 and all(len(x) == 30 for x in lines):
        return "TD1"
    if len(lines) == 2 and all(len(x) == 44 for x in lines):
        return "MRVA" if lines[0][0] == "V" else "TD3"
    if len(lines) == 2 and all(len(x) == 36 for x in lines):
        return "MRVB" if lines[0][0] == "V" else "TD2"
    return None


def _clean(s):
    return " ".join(s.replace("<", " ").split())


def split_name(field):
    if "<<" in field:
        primary, secondary = field.split("<<", 1)
    else:
        primary, secondary = field, ""
    return _clean(primary), _clean(secondary)


def parse(lines):
    """Fields and check-digit validity of well-formed MRZ lines. Returns (format, fields, checks) where every
    field is normalised as the MRZ would print it (uppercase, fillers stripped, `<` inside a value as a
    space) and checks maps each check digit's name to True/False."""
    fmt = guess_format(lines)
    if fmt is None or any(c not in ALPHABET for line in lines for c in line):
        raise ValueError("not a well-formed MRZ")
    checks = {}
    if fmt == "TD1":
        a, b, c = lines
        name, num, num_cd, opt1 = c, a[5:14], a[14], a[15:30]
        dob, dob_cd, sex, exp, exp_cd, nat, opt2 = b[0:6], b[6], b[7], b[8:14], b[14], b[15:18], b[18:29]
        checks["composite"] = check_digit(a[5:30] + b[0:7] + b[8:15] + b[18:29]) == b[29]
    elif fmt == "TD2":
        a, b = lines
        name, num, num_cd, opt1, opt2 = a[5:36], b[0:9], b[9], b[28:35], ""
        nat, dob, dob_cd, sex, exp, exp_cd = b[10:13], b[13:19], b[19], b[20], b[21:27], b[27]
        checks["composite"] = check_digit(b[0:10] + b[13:20] + b[21:35]) == b[35]
    else:
        a, b = lines
        width = len(a)
        name, num, num_cd, opt2 = a[5:width], b[0:9], b[9], ""
        nat, dob, dob_cd, sex, exp, exp_cd = b[10:13], b[13:19], b[19], b[20], b[21:27], b[27]
        if fmt == "TD3":
            opt1 = b[28:42]
            pn_cd = b[42]
            checks["personal_number"] = (pn_cd in "<0" and opt1 == "<" * 14) or check_digit(opt1) == pn_cd
            checks["composite"] = check_digit(b[0:10] + b[13:20] + b[21:43]) == b[43]
        else:
            opt1 = b[28:width]
    number = num
    if fmt in ("TD1", "TD2") and num_cd == "<" and opt1.strip("<"):
        # extended number: the rest of it, then its check digit, up to the first filler
        ext = opt1.split("<", 1)[0]
        number = num + ext[:-1]
        rest = opt1[len(ext):]
        checks["document_number"] = check_digit(number) == ext[-1:] or (
            a[2:5] == "BEL" and check_digit(num + "<" + ext[:-1]) == ext[-1:])
        opt1 = rest
    else:
        checks["document_number"] = check_digit(num) == num_cd
    checks["date_of_birth"] = check_digit(dob) == dob_cd
    checks["expiry_date"] = check_digit(exp) == exp_cd
    surname, given = split_name(name)
    fields = {
        "document_code": _clean(lines[0][0:2]),
        "issuing_state": _clean(lines[0][2:5]),
        "surname": surname,
        "given_names": given,
        "document_number": _clean(number),
        "nationality": _clean(nat),
        "date_of_birth": dob,
        "sex": _clean(sex),
        "expiry_date": exp,
        # optional data keeps its inner fillers (they are positional); normalise() compares it
        "optional_data_1": opt1.rstrip("<"),
        "optional_data_2": opt2.rstrip("<"),
    }
    return fmt, fields, checks


def normalise(value):
    """A field value as the comparison sees it: uppercase, `<` fillers stripped, runs of fillers or spaces
    inside a value as one space."""
    return " ".join(str(value or "").upper().replace("<", " ").split())
