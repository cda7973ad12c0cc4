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
"""

import os

import schemathesis

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
