#!/usr/bin/env python3
"""MCP round trip beside the plain HTTP API, in one run, on one sandbox.

Usage: python3 benchmarks/mcp.py [--runs 300] [--binary .build/release/sandbox-host]
Needs root, like the host. Measures `true` run to completion, p50/p99 in ms:
  - execute: `POST /api/sandboxes/{id}/execute` on a kept-alive connection (the floor);
  - mcp raw: a `tools/call` of run_command on a kept-alive connection, its SSE answer read
    whole (what the server costs: the SDK's transport, JSON-RPC, the tool);
  - mcp client: the same through the official Python `mcp` client (`ClientSession.call_tool`),
    what an agent built on it sees (the client's own overhead included).
The issue's target: mcp raw p50 <= 1.5 x execute p50.
"""
import argparse, asyncio, json, os, statistics, sys, tempfile, time

# This file is named mcp.py: take its directory off the path once run.py is imported, so
# `import mcp` finds the Python SDK, not this script.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [HERE] + [p for p in sys.path if os.path.abspath(p or ".") != HERE]
from run import Host, percentile, remove_data_dir, ROOT  # noqa: E402
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]


def timed(runs, *calls):
    """Samples of each call, interleaved (a, b, a, b, …) so that load from anything else on
    the machine falls on both alike."""
    for _ in range(min(20, runs)):  # warm-up: the sandbox, the connections, caches
        for call in calls:
            call()
    samples = [[] for _ in calls]
    for _ in range(runs):
        for index, call in enumerate(calls):
            start = time.perf_counter()
            call()
            samples[index].append((time.perf_counter() - start) * 1000)
    return samples


def mcp_raw(host, sandbox):
    """A kept-alive connection speaking streamable HTTP by hand; answers a call function."""
    connection = host.connection()
    headers = {"Authorization": "Bearer " + host.key, "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}

    def post(message, session=None):
        extra = {"Mcp-Session-Id": session} if session else {}
        connection.request("POST", "/mcp", body=json.dumps(message), headers={**headers, **extra})
        response = connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"POST /mcp: {response.status} {data[:300]!r}")
        return response, data

    response, _ = post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    session = response.getheader("Mcp-Session-Id")
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    counter = [0]

    def call():
        counter[0] += 1
        _, data = post({"jsonrpc": "2.0", "id": counter[0], "method": "tools/call",
                        "params": {"name": "run_command", "arguments": {"sandbox_id": sandbox, "command": "true"}}}, session)
        line = next(l for l in data.decode().splitlines() if l.startswith("data: {"))
        result = json.loads(line[6:])["result"]
        if result.get("isError") or result["structuredContent"]["exit_code"] != 0:
            raise RuntimeError(f"run_command failed: {result}")
    return call


async def mcp_client(host, sandbox, runs):
    """The official Python client; answers the samples, or None when `mcp` is not installed."""
    try:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client
        import httpx2
    except ImportError as error:
        print(f"(no mcp client row: {error})")
        return None
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer " + host.key}, timeout=60) as http:
        async with streamable_http_client(f"http://127.0.0.1:{host.port}/mcp", http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                samples = []
                for index in range(runs + min(20, runs)):
                    start = time.perf_counter()
                    result = await session.call_tool("run_command", {"sandbox_id": sandbox, "command": "true"})
                    if result.is_error:
                        raise RuntimeError(f"run_command failed: {result}")
                    if index >= min(20, runs):
                        samples.append((time.perf_counter() - start) * 1000)
                return samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/sandbox-host"))
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="bench-mcp-")
    host = Host(args.binary, data_dir)
    try:
        connection = host.connection()
        project = host.call(connection, "POST", "/api/projects", {"name": "bench-mcp"})["project_id"]
        sandbox = host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"]
        execute, raw = timed(
            args.runs, lambda: host.call(connection, "POST", f"/api/sandboxes/{sandbox}/execute", {"command": "true"}),
            mcp_raw(host, sandbox))
        client = asyncio.run(mcp_client(host, sandbox, args.runs))
        rows = [("execute (HTTP)", execute), ("mcp run_command (raw HTTP)", raw)]
        if client:
            rows.append(("mcp run_command (python mcp client)", client))
        print(f"`true` round trip, {args.runs} runs each, {os.path.basename(args.binary)} at {args.binary}")
        print(f"{'path':40} {'p50 ms':>8} {'p99 ms':>8} {'x execute p50':>14}")
        base = statistics.median(execute)
        for name, samples in rows:
            p50 = statistics.median(samples)
            print(f"{name:40} {p50:8.2f} {percentile(samples, 99):8.2f} {p50 / base:14.2f}")
    finally:
        host.process.terminate()
        host.process.wait(timeout=30)
        remove_data_dir(data_dir)


if __name__ == "__main__":
    main()
