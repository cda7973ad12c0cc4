"""The MCP server seen by the official Python MCP SDK (PyPI `mcp`, pinned in requirements.txt).

Run by tests/mcp/run.sh against a throwaway idv server; starts nothing itself. Seeds identities and a
session with known personal data through the REST API, then connects over Streamable HTTP and checks:
the tools are listed by toolset, a read and a write tool work, destructive tools appear only when asked
for, read_only=true hides every write, the key's scopes cap the tools with the spec's text, a publishable
key is refused, every call is an audit row marked as made through MCP, and no seeded personal data appears
in any tool result.

Environment: IDV_BASE (http://127.0.0.1:PORT), IDV_KEY (a secret sandbox key with every scope).
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

BASE = os.environ["IDV_BASE"].rstrip("/")
KEY = os.environ["IDV_KEY"]
API = f"{BASE}/api/v1"

# Seeded personal data: none of these strings may appear in any tool result.
PEOPLE = [
    {"first_name": "Zebulon", "last_name": "Quartermaine", "email": "zebulon.q@example.test",
     "date_of_birth": "1980-02-03", "phone": "+14155550123", "document_number": "X1234567",
     "address_line1": "12 Rue Xylophone", "city": "Paris", "external_ref": "mcp-seed-1"},
    {"first_name": "Philippa", "last_name": "Wolstenholme", "email": "p.wolstenholme@example.test",
     "date_of_birth": "1975-11-30", "phone": "+442079460958", "document_number": "P9876543",
     "address_line1": "221 Baker Street Annex", "city": "London", "external_ref": "mcp-seed-2"},
]
# A reviewer (an org user) and a blocklisted email are people's data too.
REVIEWER = {"email": "ottoline.reviewer@example.test", "name": "Ottoline Fairweather", "role": "reviewer",
            "password": "mcp-client-test-password-1"}
BLOCKED_EMAIL = "blocked.person@example.test"
PII = sorted({v for p in PEOPLE for k, v in p.items() if k not in ("external_ref", "city")}
             | {"Xylophone", "Wolstenholme", "Quartermaine", REVIEWER["email"], "Fairweather", BLOCKED_EMAIL})

DEFAULT_TOOLSETS = {"sessions", "checks", "identities", "cases", "lists", "workflows", "org", "search"}
DESTRUCTIVE = {"redact_session", "redact_identity", "bulk_redact_sessions", "delete_list_item", "revoke_session_link"}

failures = []
seen_text = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def rest(method, path, body=None, key=KEY):
    r = httpx2.request(method, f"{API}{path}", json=body, headers={"X-API-Key": key}, timeout=30)
    if r.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json()


def client(query="", key=KEY):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return Client(streamable_http_client(f"{BASE}/mcp{query}", http_client=http))


def text_of(result):
    text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    seen_text.append(text)
    if result.structured_content is not None:
        seen_text.append(json.dumps(result.structured_content))
    return text


async def names(query="", key=KEY):
    async with client(query, key) as c:
        return {t.name: t for t in (await c.list_tools()).tools}


async def main():
    identities = [rest("POST", "/identities", p)["id"] for p in PEOPLE]
    prefill = {k: v for k, v in PEOPLE[0].items() if k != "external_ref"}
    session = rest("POST", "/sessions", {**prefill, "external_ref": "mcp-seed-1"})["id"]
    rest("POST", "/users", REVIEWER)
    blocklist = rest("POST", "/lists", {"name": "blocked emails", "list_type": "email"})["id"]
    rest("POST", f"/lists/{blocklist}/items", {"value": {"email": BLOCKED_EMAIL}})

    # Listing: the default toolsets, no destructive tool; toolsets= adds them; read_only hides writes.
    tools = await names()
    check(len(tools) == 40, f"the default toolsets list 40 tools for a key with every scope (got {len(tools)})")
    check("get_session" in tools and "create_session" in tools and "approve_case" in tools, "reads and writes listed")
    check(not (DESTRUCTIVE & set(tools)), "no destructive tool unless asked for")
    schema = tools["create_session"].input_schema
    check("workflow_id" in schema["properties"] and schema.get("additionalProperties") is False,
          "create_session's input schema is the REST body's")
    with_destructive = await names("?toolsets=sessions,identities,destructive")
    check(DESTRUCTIVE <= set(with_destructive), "toolsets=...,destructive lists the destructive tools")
    check("list_cases" not in with_destructive, "toolsets= limits the listing to the named toolsets")
    check(all(t.annotations.destructive_hint for n, t in with_destructive.items() if n in DESTRUCTIVE),
          "destructive tools are annotated as such")
    read_only = await names("?read_only=true")
    check(read_only and all(t.annotations.read_only_hint for t in read_only.values()),
          "read_only=true lists only read tools")
    check("create_session" not in read_only and "get_session" in read_only, "read_only hides create_session")

    async with client("?toolsets=sessions,checks,identities,cases,lists,workflows,org,search") as c:
        # A read tool and a write tool.
        got = json.loads(text_of(await c.call_tool("get_session", {"session_id": session})))
        check(got.get("id") == session and got.get("status") == "pending", "get_session answers the session")
        tagged = await c.call_tool("tag_identity", {"identity_id": identities[0], "tag": "mcp-reviewed"})
        check(not tagged.is_error, "tag_identity (a write) succeeds")
        check("mcp-reviewed" in rest("GET", f"/identities/{identities[0]}")["tags"], "the write is visible over REST")
        created = await c.call_tool("create_session", {**prefill, "external_ref": "mcp-seed-3"})
        created_body = json.loads(text_of(created))
        check(not created.is_error and created_body.get("id", "").startswith("ses_"), "create_session creates a session")
        # Every read a client would make over the seeded data.
        calls = [
            ("get_identity", {"identity_id": identities[0]}),
            ("get_identity", {"identity_id": identities[1]}),
            ("list_identities", {}),
            ("search_identities", {"email": PEOPLE[1]["email"]}),
            ("list_sessions", {}),
            ("get_session", {"session_id": created_body.get("id", session)}),
            ("list_session_events", {"session_id": session}),
            ("list_cases", {}),
            ("list_checks", {}),
            ("list_lists", {}),
            ("list_list_items", {"list_id": blocklist}),
            ("list_workflows", {}),
            ("list_verification_policies", {}),
            ("whoami", {}),
            ("get_usage_stats", {}),
            ("list_org_users", {}),
            ("list_api_keys", {}),
            ("search", {"query": "mcp-seed-1"}),
            ("search", {"query": identities[1]}),
            ("fetch", {"id": identities[0]}),
            ("fetch", {"id": session}),
        ]
        for name, args in calls:
            result = await c.call_tool(name, args)
            text_of(result)
            check(not result.is_error, f"{name} answers")
        found = json.loads(text_of(await c.call_tool("search", {"query": identities[1]})))
        check(any(r["id"] == identities[1] for r in found.get("results", [])), "search finds an identity by id")
        fetched = json.loads(text_of(await c.call_tool("fetch", {"id": identities[0]})))
        check(set(fetched) >= {"id", "title", "text", "url", "metadata"}, "fetch has the connector shape")
        disabled = await c.call_tool("redact_session", {"session_id": session, "reason": "test"})
        check(disabled.is_error and "destructive" in text_of(disabled), "a destructive tool is refused unless enabled")

    async with client("?read_only=true") as c:
        refused = await c.call_tool("tag_identity", {"identity_id": identities[0], "tag": "x"})
        check(refused.is_error and "read_only" in text_of(refused), "read_only refuses a write tool")

    # The key's scopes cap the tools, whatever the toolsets.
    narrow = rest("POST", "/api-keys", {"scopes": ["sessions:read", "cases:read", "identities:read"], "label": "mcp-narrow"})
    narrow_tools = await names("?toolsets=cases,sessions,destructive", key=narrow["secret"])
    check("get_case" in narrow_tools and "approve_case" not in narrow_tools and "redact_session" not in narrow_tools,
          "a narrow key does not see tools its scopes do not cover")
    async with client("?toolsets=cases", key=narrow["secret"]) as c:
        capped = await c.call_tool("approve_case", {"case_id": "case_01J9ZQ4X8Y2K3M4N5P6Q7R8S9T"})
        check(capped.is_error and text_of(capped) == "Tool 'approve_case' requires the 'cases:write' scope on the API key.",
              "calling a capped tool gives the spec's scope error text")

    # A publishable key is refused.
    publishable = rest("POST", "/api-keys", {"type": "publishable", "label": "mcp-pub"})["secret"]
    r = httpx2.post(f"{BASE}/mcp", headers={"Authorization": f"Bearer {publishable}"},
                    json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}, timeout=30)
    check(r.status_code == 403 and r.json().get("error") == "forbidden", f"a publishable key gets 403 (got {r.status_code})")
    try:
        await names(key=publishable)
        check(False, "the SDK cannot connect with a publishable key")
    except Exception:
        check(True, "the SDK cannot connect with a publishable key")

    # Every call is an audit row marked as made through MCP.
    events = rest("GET", "/events?action=mcp.tool_called&limit=100")["data"]
    check(len(events) >= len(calls), f"tool calls are in the audit log ({len(events)} rows)")
    check(all(e["actor"].startswith("mcp:vk_sandbox_") and e["metadata"].get("agent") is True for e in events),
          "audit rows name the actor mcp:<key prefix> and carry agent: true")

    # No seeded personal data in anything a tool answered.
    everything = "\n".join(seen_text).lower()
    leaked = [p for p in PII if p.lower() in everything]
    check(not leaked, f"no seeded personal data in {len(seen_text)} tool results (leaked: {leaked})")

    print(f"\n{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
