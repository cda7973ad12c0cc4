"""Instructions per API-only verification, for `make bench-instructions` (tests/bench/instructions.sh).

`drive BASE KEY N`: N sequential verifications against a running server: create a live session, upload a
64x64 document photo and a distinct noise selfie, submit, wait for the result (Prefer: wait).
`report CALLGRIND_OUT N`: the inclusive instructions of the writer thread, of one upload's processing, of the
decision and of the barcode reading, per verification, from callgrind's call records.
Standard library only.
"""

import collections
import json
import random
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from stdlib_png import rgb_png  # noqa: E402


def drive(base, key, count):
    def call(method, path, body=None, content_type="application/json", headers=None):
        request = urllib.request.Request(
            base + path,
            data=body,
            method=method,
            headers={"X-API-Key": key, "Content-Type": content_type, **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def upload(session, document_type, image):
        boundary = "idvinstructions"
        body = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"document_type\"\r\n\r\n{document_type}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{document_type}.png\"\r\n"
            "Content-Type: image/png\r\n\r\n"
        ).encode() + image + f"\r\n--{boundary}--\r\n".encode()
        status, answer = call(
            "POST", f"/api/v1/sessions/{session}/documents", body, f"multipart/form-data; boundary={boundary}"
        )
        if status not in (200, 201):
            sys.exit(f"upload {document_type}: HTTP {status} {answer}")

    rng = random.Random(20261206)
    document = rgb_png(64, 64, lambda x, y: ((x * 4) & 255, (y * 4) & 255, 128))
    checks = ["document_ocr", "document_expiration", "age_verification", "duplicate_detection", "risk_assessment"]
    for n in range(count):
        body = {
            "external_ref": f"instructions-{n}",
            "first_name": f"Grace{n}",
            "last_name": "Hopper",
            "date_of_birth": "1986-12-09",
            "checks": checks,
        }
        status, created = call("POST", "/api/v1/sessions", json.dumps(body).encode())
        if status != 201:
            sys.exit(f"create: HTTP {status} {created}")
        session = created["id"]
        upload(session, "id_front", document)
        upload(session, "selfie", rgb_png(64, 64, lambda x, y: (rng.randrange(256), rng.randrange(256), rng.randrange(256))))
        status, answer = call("POST", f"/api/v1/sessions/{session}/submit")
        if status != 202:
            sys.exit(f"submit: HTTP {status} {answer}")
        for _ in range(5):
            status, answer = call("GET", f"/api/v1/sessions/{session}/result", headers={"Prefer": "wait=60"})
            if status == 200:
                break
        else:
            sys.exit(f"no result for {session}")


REPORTED = [
    ("writer thread", "idv::commands::writer::run"),
    ("  the decision", "idv::commands::session_decision::walk"),
    ("upload processing", "idv::commands::sessions::prepare_upload"),
    ("  barcode reading", "idv::checks::barcode::read_barcodes_luma"),
    ("  perceptual hash", "idv::checks::imagehash::phash_luma"),
]


def report(path, count):
    names = {}

    def name(token):
        match = re.match(r"\((\d+)\)(?: (.*))?", token)
        if not match:
            return token
        if match.group(2):
            names[match.group(1)] = match.group(2)
        return names.get(match.group(1), match.group(1))

    inclusive = collections.Counter()
    callee = None
    pending = False
    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if line.startswith(("fn=", "fl=", "fi=", "fe=", "cfi=", "cfl=", "ob=", "cob=")):
                if line.startswith("fn="):
                    name(line[3:])
                continue
            if line.startswith("cfn="):
                callee = name(line[4:])
            elif line.startswith("calls="):
                pending = True
            elif pending and line and (line[0].isdigit() or line[0] in "+-*"):
                fields = line.split()
                inclusive[callee] += int(fields[1]) if len(fields) > 1 else 0
                pending = False
    print(f"instructions per verification ({count} verifications, callgrind):")
    for label, function in REPORTED:
        print(f"  {label:<20} {inclusive[function] / count / 1000:10.0f}k")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "drive":
        drive(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        report(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: instructions.py drive BASE KEY N | report CALLGRIND_OUT N")
