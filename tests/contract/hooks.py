"""Schemathesis hooks for the idv contract run (loaded through schemathesis.toml).

The run authenticates every request with one sandbox key (IDV_CONTRACT_KEY). Schemathesis reuses
identifiers it has seen in responses, so it learns that key's own id from GET /api-keys and may then
PATCH it: new scopes, an allowed_ips list or an expiry in the near future would lock the fuzzer out
and turn every later result into 401/403 noise. Updating a key is a legitimate operation, so it is not
excluded: such a request is redirected to a spare key (IDV_CONTRACT_SPARE_KEY_ID) that the run never
authenticates with. POST /api-keys/{id}/expire needs no such care: the server refuses to expire the
calling key (409).

A workflow graph's nodes refer to each other by id, and the graph must be a DAG with one start node
whose paths all end in a terminal node (POST/PATCH /workflows answer 422 otherwise). JSON Schema cannot
state references between keys, so a generated graph is almost never a valid one: in positive cases the
generated `graph` is replaced by a valid graph before the call, and the rest of the body stays as
generated. Graph validation itself is covered by the API tests.

An uploaded document or selfie must be an image (JPEG, PNG, WebP) or a PDF the server can decode; the
schema says so (its content types), but schemathesis fills a multipart file field with arbitrary bytes
whatever the schema says. In positive cases the file of an upload (and the VerifyHQ document
verification's frontImage and backImage) is therefore a real PNG made here; the other form fields stay as
generated. Undecodable files are covered by the API tests (422).

A watchlist import must be a list file as its publisher ships it (OFAC CSV, UN/EU XML, UK CSV, OpenSanctions
JSON lines); no schema can describe a parseable list file. In positive cases the import is one small
OpenSanctions entity (source `opensanctions`, no OFAC side files). Each importer is tested on real files
in tests/screening_importers.rs.
"""

import base64
import os
import sys
from pathlib import Path

import schemathesis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from stdlib_png import rgb_png  # noqa: E402

OWN_KEY_ID = os.environ.get("IDV_CONTRACT_KEY_ID", "")
SPARE_KEY_ID = os.environ.get("IDV_CONTRACT_SPARE_KEY_ID", "")


VALID_GRAPH = {
    "entry": "start",
    "nodes": {
        "start": {"type": "start", "next": "age"},
        "age": {"type": "policy", "policy": "age_verification", "on_pass": "ok", "on_fail": "no"},
        "ok": {"type": "terminal", "outcome": "approved"},
        "no": {"type": "terminal", "outcome": "rejected"},
    },
}


def _png(width=64, height=48):
    """A small valid RGB PNG with a gradient (decodable, hashable)."""
    return rgb_png(width, height, lambda x, y: (x * 4 % 256, y * 5 % 256, (x + y) % 256))


PNG = _png()
UPLOADS = (
    "/api/v1/sessions/{session_id}/documents",
    "/api/v1/documents",
    "/verify/{token}/documents",
    "/verify/{token}/selfie",
)


# The VerifyHQ dialect's document verification: its image fields.
IMAGE_FIELDS = {
    "/v1/verifications/document": ("frontImage", "backImage"),
    "/v1/verifications/liveness/challenge": ("photo",),
}


def _real_image_for_uploads(case):
    if case.method.upper() != "POST":
        return
    fields = IMAGE_FIELDS.get(case.path, ("file",) if case.path in UPLOADS else ())
    meta = getattr(case, "meta", None)
    positive = meta is None or meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict):
        for field in fields:
            if field in case.body:
                case.body[field] = PNG


OPENSANCTIONS_LINE = (
    b'{"id": "contract-1", "schema": "Person", "caption": "Contract Test Person", '
    b'"properties": {"name": ["Contract Test Person"], "birthDate": ["1970-01-01"]}, '
    b'"datasets": ["contract"]}\n'
)


def _real_selfie_for_dedup(case):
    """The VerifyHQ duplicate check carries its selfie as base64 in JSON: a real PNG in positive cases."""
    if case.path != "/v1/biometrics/dedup/check" or case.method.upper() != "POST":
        return
    meta = getattr(case, "meta", None)
    positive = meta is None or meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict):
        case.body["selfieBase64"] = base64.b64encode(PNG).decode()
        case.body["selfieMimeType"] = "image/png"


def _real_list_for_watchlist_import(case):
    if case.path != "/api/v1/watchlists/import" or case.method.upper() != "POST":
        return
    meta = getattr(case, "meta", None)
    positive = meta is None or meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict):
        for side_file in ("add_file", "alt_file", "comments_file"):
            case.body.pop(side_file, None)
        case.body["source"] = "opensanctions"
        case.body["file"] = OPENSANCTIONS_LINE


def _spare_key_for_own_key_update(case):
    if not OWN_KEY_ID or case.method.upper() != "PATCH" or not case.path.endswith("/api-keys/{api_key_id}"):
        return
    params = case.path_parameters or {}
    if params.get("api_key_id") == OWN_KEY_ID:
        params["api_key_id"] = SPARE_KEY_ID


def _valid_workflow_graph(case):
    if case.path not in ("/api/v1/workflows", "/api/v1/workflows/{workflow_id}"):
        return
    meta = getattr(case, "meta", None)
    positive = meta is None or meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict) and isinstance(case.body.get("graph"), dict):
        case.body["graph"] = dict(VALID_GRAPH)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    _spare_key_for_own_key_update(case)
    _valid_workflow_graph(case)
    _real_image_for_uploads(case)
    _real_selfie_for_dedup(case)
    _real_list_for_watchlist_import(case)
