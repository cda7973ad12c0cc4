"""Schemathesis hooks for the idv contract run (loaded through schemathesis.toml).

The run authenticates every request with one sandbox key (IDV_CONTRACT_KEY). Schemathesis reuses
identifiers it has seen in responses, so it learns that key's own id from GET /api-keys and may then
PATCH it: new scopes, an allowed_ips list or an expiry in the near future would lock the fuzzer out
and turn every later result into 401/403 noise. Updating a key is a legitimate operation, so it is not
excluded: such a request is redirected to a spare key (IDV_CONTRACT_SPARE_KEY_ID) that the run never
authenticates with. POST /api-keys/{id}/expire needs no such care: the server refuses to expire the
calling key (409).
"""

import os

import schemathesis

OWN_KEY_ID = os.environ.get("IDV_CONTRACT_KEY_ID", "")
SPARE_KEY_ID = os.environ.get("IDV_CONTRACT_SPARE_KEY_ID", "")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not OWN_KEY_ID or case.method.upper() != "PATCH" or not case.path.endswith("/api-keys/{api_key_id}"):
        return
    params = case.path_parameters or {}
    if params.get("api_key_id") == OWN_KEY_ID:
        params["api_key_id"] = SPARE_KEY_ID
