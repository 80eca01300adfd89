"""sitrep's MCP server through the official MCP Python SDK (run by scripts/mcp-check).

Over stdio (spawning `sitrep mcp`) and over streamable HTTP (/mcp with a bearer token): list the
tools, start an investigation with a question and wait for it, read its session back. Exits
non-zero on the first failure.
"""

import argparse
import asyncio
import json
import os
import sys

import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

TOOLS = {
    "list_issues",
    "start_investigation",
    "get_session",
    "search_knowledge",
    "run_diagnostic_task",
    "map_around",
}


def structured(result, what):
    if result.is_error:
        raise AssertionError(f"{what} failed: {result.content}")
    data = result.structured_content
    # The text block carries the same JSON, for clients that read text only.
    text = json.loads(result.content[0].text)
    if text != data:
        raise AssertionError(f"{what}: text and structuredContent differ")
    return data


async def exercise(session: ClientSession, transport: str) -> None:
    init = await session.initialize()
    print(f"{transport}: {init.server_info.name} {init.server_info.version}, protocol {init.protocol_version}")
    tools = {t.name: t for t in (await session.list_tools()).tools}
    missing = TOOLS - tools.keys()
    if missing:
        raise AssertionError(f"{transport}: tools missing: {sorted(missing)}")
    if any("approv" in n or "deny" in n for n in tools):
        raise AssertionError(f"{transport}: a tool decides approvals: {sorted(tools)}")
    print(f"{transport}: {len(tools)} tools: {', '.join(sorted(tools))}")

    issues = structured(await session.call_tool("list_issues", {"status": "all"}), "list_issues")
    if not isinstance(issues.get("items"), list):
        raise AssertionError(f"{transport}: list_issues: {issues}")

    started = structured(
        await session.call_tool("start_investigation", {"question": "is this host healthy?", "wait": True}),
        "start_investigation",
    )
    sid = started["id"]
    got = structured(await session.call_tool("get_session", {"id": sid}), "get_session")
    if got["id"] != sid or got["status"] not in ("concluded", "inconclusive"):
        raise AssertionError(f"{transport}: get_session: {got.get('id')} {got.get('status')}")
    if not isinstance(got.get("conclusion"), dict):
        raise AssertionError(f"{transport}: the session has no conclusion: {got}")
    print(f"{transport}: session {sid} {got['status']}: {got['conclusion'].get('summary', '')[:100]}")

    try:
        refused = await session.call_tool("approve", {"id": sid})
    except MCPError as e:
        print(f"{transport}: approve refused: {e}")
    else:
        if not refused.is_error:
            raise AssertionError(f"{transport}: a made-up approve tool was not refused")


async def over_stdio(sitrep: str, home: str) -> None:
    params = StdioServerParameters(command=sitrep, args=["mcp"], env={"SITREP_HOME": home})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await exercise(session, "stdio")


async def over_http(url: str, token: str) -> None:
    timeout = httpx2.Timeout(30, read=300)
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    async with client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await exercise(session, "http")


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sitrep", required=True)
    ap.add_argument("--home", required=True)
    ap.add_argument("--url", required=True)
    a = ap.parse_args()
    failed = 0
    for name, run in [
        ("stdio", lambda: over_stdio(a.sitrep, a.home)),
        ("http", lambda: over_http(a.url, os.environ["SITREP_MCP_TOKEN"])),
    ]:
        try:
            await run()
            print(f"{name}: ok")
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next transport runs
            failed += 1
            print(f"{name}: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
    print(f"mcp-check: {'all transports ok' if not failed else f'{failed} transport(s) failed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
