#!/usr/bin/env python3
"""Realistic people's names for the screening quality measures, from the given- and family-name lists (several of
them frequency-weighted) that Faker ships for 70 locales in their own scripts.

  people.py queries OUT [--count N]   people to screen who are not on any list (fixtures/screening/people.tsv)
  people.py list OUT [--count N]      a list of N listed people (make bench: the million-name list)
  people.py ftm OUT [--count N]       the same list as OpenSanctions FollowTheMoney JSON lines (Person entities
                                      with a name, a birth date and a nationality), for the importer

Each locale's family names are split in two halves by a hash of the name: queries take their family names from
one half and lists from the other, so a query person is never a listed one, while given names (the common ones
most of all) are shared, as they are between real people. Deterministic for a given Faker version (pinned in
requirements.txt).
"""
import argparse
import hashlib
import json
import sys

from faker import Faker

# Locales whose lists are placeholders (John/Jane/Doe) or too small to draw from are left out.
SKIP = {"de_LI", "de_LU", "es", "vi_VN", "pl_PL", "is_IS", "es_CL", "en", "gu_IN", "en_TH", "fr_QC"}
# Family name first, written without a space.
EAST_ASIAN = {"zh_CN", "zh_TW", "ja_JP", "ko_KR"}


def locales():
    from faker.providers import person
    import pkgutil
    return sorted(m.name for m in pkgutil.iter_modules(person.__path__) if m.name not in SKIP)


def half(name):
    return hashlib.blake2b(name.encode("utf-8"), digest_size=2).digest()[0] & 1


def people(side, count, seed):
    """Yields (locale, name) with family names from `side` (0 queries, 1 lists)."""
    fakers = []
    for loc in locales():
        f = Faker(loc)
        f.seed_instance(seed + sum(loc.encode()))
        try:
            families = [n for n in dict.fromkeys(f.last_name() for _ in range(400)) if half(n) == side]
        except Exception:
            continue
        if len(families) >= 3:
            fakers.append((loc, f))
    i = 0
    while i < count:
        loc, f = fakers[i % len(fakers)]
        try:
            given, family = f.first_name(), f.last_name()
        except Exception:
            i += 1
            continue
        if half(family) != side or not given.strip() or not family.strip():
            continue
        middle = f.first_name() if (i // len(fakers)) % 4 == 3 and loc not in EAST_ASIAN else None
        if loc in EAST_ASIAN:
            name = family + given
        elif middle and middle != given:
            name = f"{given} {middle} {family}"
        else:
            name = f"{given} {family}"
        yield loc, " ".join(name.split())
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["queries", "list", "ftm"])
    ap.add_argument("out")
    ap.add_argument("--count", type=int)
    a = ap.parse_args()
    side, count, seed = (0, a.count or 6000, 2026) if a.what == "queries" else (1, a.count or 1_000_000, 1917)
    # `list` and `ftm` write the same people.
    with open(a.out, "w", encoding="utf-8") as out:
        if a.what != "ftm":
            out.write("locale\tname\n")
        for i, (loc, name) in enumerate(people(side, count, seed)):
            if a.what == "ftm":
                h = hashlib.blake2b(f"{i}".encode(), digest_size=4).digest()
                born = f"{1930 + h[0] % 75}-{1 + h[1] % 12:02d}-{1 + h[2] % 28:02d}"
                props = {"name": [name], "birthDate": [born], "nationality": [loc.split("_")[-1].lower()]}
                out.write(json.dumps({"id": f"p-{i}", "schema": "Person", "properties": props}, ensure_ascii=False))
                out.write("\n")
            else:
                out.write(f"{loc}\t{name}\n")
    print(f"people.py: {count} names to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
