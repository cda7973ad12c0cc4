#!/usr/bin/env python3
"""The peer baseline for the MRZ test set: runs PassportEye's read_mrz on every image of one split and reports,
per subset, the read rate (every field equals the truth), the accepted-wrong rate (PassportEye calls the MRZ
valid, or every check digit holds, yet a field differs from the truth), the no-read rate and the time per
image. It only measures; it must not change the set or tune anything to it.

    target/mrz-venv/bin/python tests/mrz/passporteye_eval.py --set target/mrz-set --json target/mrz-set/passporteye.json
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

# Tesseract's OpenMP threads would compete with the builds sharing this machine and make the timings noisy;
# one thread per image is also how a server reading one upload at a time runs it.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_digits as icao  # noqa: E402

FIELDS = ("document_code", "issuing_state", "surname", "given_names", "document_number", "nationality",
          "date_of_birth", "sex", "expiry_date", "optional_data_1", "optional_data_2")
OUTCOMES = ("read", "accepted_wrong", "rejected", "no_read")


def _names_field(surname, names, width):
    return (surname.replace(" ", "<") + "<<" + names.replace(" ", "<")).ljust(width, "<")[:width]


def peer_lines(m):
    """The MRZ lines PassportEye read, rebuilt from its fields, so that its result goes through the same
    parser (and the same extended-document-number rule) as the truth."""
    t = m.mrz_type
    head = m.type + m.country
    tail = m.number + m.check_number + m.nationality + m.date_of_birth + m.check_date_of_birth + m.sex + \
        m.expiration_date + m.check_expiration_date
    if t == "TD1":
        a = head + m.number + m.check_number + m.optional1
        b = m.date_of_birth + m.check_date_of_birth + m.sex + m.expiration_date + m.check_expiration_date + \
            m.nationality + m.optional2 + m.check_composite
        return [a, b, _names_field(m.surname, m.names, 30)]
    if t == "TD2":
        return [head + _names_field(m.surname, m.names, 31), tail + m.optional1 + m.check_composite]
    if t == "TD3":
        return [head + _names_field(m.surname, m.names, 39),
                tail + m.personal_number + m.check_personal_number + m.check_composite]
    width = 44 if t == "MRVA" else 36
    return [head + _names_field(m.surname, m.names, width - 5), (tail + m.optional1).ljust(width, "<")[:width]]


def judge(m, truth):
    """(outcome, fields that differ, PassportEye's valid_score)."""
    if m is None or getattr(m, "mrz_type", None) is None:
        return "no_read", [], None
    accepted = m.valid_score == 100 or all(getattr(m, "valid_check_digits", [False]))
    try:
        fmt, fields, _ = icao.parse(peer_lines(m))
    except Exception:  # noqa: BLE001 - a result that cannot be laid out as an MRZ differs everywhere
        fmt, fields = None, {}
    wrong = [k for k in FIELDS if icao.normalise(fields.get(k)) != icao.normalise(truth["fields"][k])]
    if fmt != truth["format"]:
        wrong.insert(0, "format")
    if not wrong:
        return "read", [], m.valid_score
    return ("accepted_wrong" if accepted else "rejected"), wrong, m.valid_score


def percentile(values, q):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="target/mrz-set", help="the folder generate.py wrote")
    ap.add_argument("--split", default="report", choices=("report", "tune"))
    ap.add_argument("--limit", type=int, default=0, help="at most this many images per subset (0: all)")
    ap.add_argument("--json", help="also write the summary and every image's outcome here")
    ap.add_argument("--tesseract-params", default="",
                    help="passed to read_mrz as extra_cmdline_params (PassportEye suggests '--oem 0')")
    ap.add_argument("--quiet", action="store_true", help="no line per image")
    a = ap.parse_args()
    # PassportEye 2.2.2 calls scikit-image functions deprecated in 0.25; the warnings say nothing about reads
    warnings.filterwarnings("ignore", category=FutureWarning)

    from passporteye import read_mrz
    import passporteye

    with open(os.path.join(a.set, "truth.jsonl"), encoding="utf-8") as fh:
        truth = [json.loads(line) for line in fh if line.strip()]
    truth = [t for t in truth if t["split"] == a.split]
    subsets = []
    for t in truth:
        if t["subset"] not in subsets:
            subsets.append(t["subset"])
    if a.limit:
        truth = [t for s in subsets for t in [x for x in truth if x["subset"] == s][: a.limit]]

    images, summary = [], {}
    for t in truth:
        started = time.perf_counter()
        try:
            m = read_mrz(os.path.join(a.set, t["file"]), extra_cmdline_params=a.tesseract_params)
        except Exception as e:  # noqa: BLE001 - a crash on an image is a no-read, and is noted
            m = None
            print(f"{t['file']}: read_mrz raised {type(e).__name__}: {e}", file=sys.stderr)
        seconds = time.perf_counter() - started
        outcome, wrong, score = judge(m, t)
        images.append({"file": t["file"], "subset": t["subset"], "format": t["format"], "outcome": outcome,
                       "wrong_fields": wrong, "valid_score": score, "seconds": round(seconds, 4)})
        if not a.quiet:
            print(f"{t['file']}  {t['format']:<4}  {outcome:<14}  {seconds:6.2f}s  {' '.join(wrong)}",
                  file=sys.stderr, flush=True)

    for s in subsets + ["all"]:
        rows = [i for i in images if s in ("all", i["subset"])]
        if not rows:
            continue
        n = len(rows)
        secs = [i["seconds"] for i in rows]
        summary[s] = {"images": n, **{f"{o}_rate": sum(i["outcome"] == o for i in rows) / n for o in OUTCOMES},
                      **{o: sum(i["outcome"] == o for i in rows) for o in OUTCOMES},
                      "mean_seconds": statistics.mean(secs), "p95_seconds": percentile(secs, 0.95)}

    version = getattr(passporteye, "__version__", "")
    print(f"PassportEye {version} on {a.set} split={a.split} tesseract params: {a.tesseract_params or '(default)'}")
    print(f"{'subset':<10}{'images':>7}{'read':>9}{'wrong':>9}{'rejected':>10}{'no-read':>9}{'mean s':>9}"
          f"{'p95 s':>8}")
    for s, r in summary.items():
        print(f"{s:<10}{r['images']:>7}{100 * r['read_rate']:>8.1f}%{100 * r['accepted_wrong_rate']:>8.1f}%"
              f"{100 * r['rejected_rate']:>9.1f}%{100 * r['no_read_rate']:>8.1f}%{r['mean_seconds']:>9.2f}"
              f"{r['p95_seconds']:>8.2f}")
    print("read: every field right; wrong: accepted (valid_score 100 or every check digit valid) with a wrong "
          "field; rejected: returned, not accepted, a field wrong; no-read: nothing returned")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump({"reader": "passporteye", "version": version, "tesseract_params": a.tesseract_params,
                       "set": a.set, "split": a.split, "summary": summary,
                       "images": images}, fh, indent=1)


if __name__ == "__main__":
    main()
