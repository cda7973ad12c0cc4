"""Instructions per API-only verification and per identity creation, for `make bench-instructions`
(tests/bench/instructions.sh).

`drive BASE KEY N [FIRST]`: N sequential verifications against a running server: create a live session,
upload a 64x64 document photo and a distinct noise selfie, submit, wait for the result (Prefer: wait).
`drive-creations BASE KEY N [FIRST]`: N sequential identity creations with the fields `make bench`'s wrk
script sends (name, date of birth, email, phone, document number, SSN, address), each with its own values.
`drive-reads BASE KEY N [FIRST]`: N sequential identity reads on one kept-alive connection, as wrk sends them;
the warm-up (FIRST 0) creates the identities first (N of them, as `drive-creations`) and keeps their ids in the
file IDV_INSTRUCTIONS_IDS, which the measured drive reads in turn.
FIRST numbers the first operation (default 0), so a second drive against the same server makes new people.
`report WORKLOAD CALLGRIND_OUT N`: the whole process's instructions (everything counted since the counters
were zeroed) and the inclusive instructions of the functions listed for the workload (`verifications`: the
writer thread, the decision, an upload's processing, its barcode reading; `creations`: the writer thread and
its parts, the command's work on the request's thread before it queues for the writer; `reads`: the HTTP
dispatcher on the worker, the query on the read lane and its decryption), per operation, from callgrind's
call records.
Standard library only.
"""

import collections
import http.client
import json
import os
import random
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from stdlib_png import rgb_png  # noqa: E402


def api(base, key):
    """A function that sends one request to the server and returns its status and JSON answer."""

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

    return call


def drive(base, key, count, first=0):
    call = api(base, key)

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

    rng = random.Random(20261206 + first)
    document = rgb_png(64, 64, lambda x, y: ((x * 4) & 255, (y * 4) & 255, 128))
    checks = ["document_ocr", "document_expiration", "age_verification", "duplicate_detection", "risk_assessment"]
    for n in range(first, first + count):
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


def creation_body(n):
    return {
            "external_ref": f"instructions-identity-{n}",
            "first_name": f"Alice{n}",
            "last_name": "Instructions",
            "date_of_birth": "1990-01-15",
            "email": f"alice{n}@example.com",
            "phone": f"+1 555 010 {n % 10000:04d}",
            "document_number": f"W{n:09d}",
            "ssn": f"123-45-{n % 10000:04d}",
            "address_line1": "1 Main St",
            "city": "Springfield",
            "zip_code": "12345",
            "country": "US",
        }


def drive_creations(base, key, count, first=0):
    call = api(base, key)
    for n in range(first, first + count):
        status, answer = call("POST", "/api/v1/identities", json.dumps(creation_body(n)).encode())
        if status != 201:
            sys.exit(f"identity creation: HTTP {status} {answer}")


def drive_reads(base, key, count, first=0):
    ids_file = Path(os.environ["IDV_INSTRUCTIONS_IDS"])
    if first == 0:
        call = api(base, key)
        ids = []
        for n in range(count):
            status, answer = call("POST", "/api/v1/identities", json.dumps(creation_body(n)).encode())
            if status != 201:
                sys.exit(f"identity creation: HTTP {status} {answer}")
            ids.append(answer["id"])
        ids_file.write_text("\n".join(ids))
    ids = ids_file.read_text().split()
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    for n in range(count):
        connection.request("GET", f"/api/v1/identities/{ids[n % len(ids)]}", headers={"X-API-Key": key})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"identity read: HTTP {response.status} {body[:200]!r}")
    connection.close()


REPORTED = {
    "verifications": [
        ("writer thread", "idv::commands::writer::run"),
        ("  the decision", "idv::commands::session_decision::walk"),
        ("upload processing", "idv::commands::sessions::prepare_upload"),
        ("  barcode reading", "idv::checks::barcode::read_barcodes_luma"),
        ("  perceptual hash", "idv::checks::imagehash::phash_luma"),
    ],
    "reads": [
        ("HTTP (actix dispatcher)", "<actix_http::h1::dispatcher::Dispatcher<T,S,B,X,U> as core::future::future::Future>::poll"),
        ("  authentication", "idv::auth::Authenticator::authenticate::{{closure}}"),
        ("  the reply's JSON", "idv::http::reply::Reply::ok"),
        ("the query (read lane)", "idv::queries::identities::get"),
        ("  the data key", "idv::store::subject_keys::data_key"),
        ("  personal data opened", "idv::store::subject_keys::open_pii"),
        ("    fields decrypted", "idv::crypto::DataKey::open"),
    ],
    "creations": [
        ("writer thread", "idv::commands::writer::run"),
        ("  event append", "idv::store::events::append"),
        ("  projections", "idv::projections::apply"),
        ("    blind-index keys", "idv::projections::identities::blind_rows"),
        ("  WAL frames at commit", "pagerWalFrames"),
        ("request, to the writer", "idv::commands::identities::prepare_create"),
        ("  blind indexes, sealed", "idv::commands::identities::sealed_blind_set"),
        ("    normalising", "idv::crypto::blind::index_inputs"),
        ("  sealing (fields, set)", "idv::crypto::seal_raw"),
    ],
}


def report(workload, path, count):
    names = {}

    def name(token):
        match = re.match(r"\((\d+)\)(?: (.*))?", token)
        if not match:
            return token
        if match.group(2):
            names[match.group(1)] = match.group(2)
        return names.get(match.group(1), match.group(1))

    inclusive = collections.Counter()
    total = 0
    callee = None
    pending = False
    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
                continue
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
    operation = workload[:-1]
    print(f"instructions per {operation} ({count} {workload}, callgrind):")
    print(f"  {'whole process':<24} {total / count / 1000:10.0f}k")
    for label, function in REPORTED[workload]:
        print(f"  {label:<24} {inclusive[function] / count / 1000:10.0f}k")


if __name__ == "__main__":
    if len(sys.argv) in (5, 6) and sys.argv[1] == "drive":
        drive(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) == 6 else 0)
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "drive-creations":
        drive_creations(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) == 6 else 0)
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "drive-reads":
        drive_reads(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) == 6 else 0)
    elif len(sys.argv) == 5 and sys.argv[1] == "report" and sys.argv[2] in REPORTED:
        report(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(
            "usage: instructions.py drive BASE KEY N [FIRST] | drive-creations BASE KEY N [FIRST]"
            " | drive-reads BASE KEY N [FIRST] | report verifications|creations|reads CALLGRIND_OUT N"
        )
