"""The host's MCP server (/mcp) driven by the official Python `mcp` package over streamable HTTP.

Usage: mcp_client.py BASE_URL KEY OTHER_KEY
Prints one `ok: …` line per check and exits 0; a failed check raises (exit 1, with the reason).
Exit 77 when the `mcp` package cannot be imported (the Swift test then skips).
"""

import asyncio
import contextlib
import json
import sys

try:
    import httpx2 as httpx  # what mcp >= 2 builds on
except ImportError:  # older mcp releases use httpx
    try:
        import httpx
    except ImportError:
        sys.exit(77)
try:
    from mcp import ClientSession
    try:
        from mcp.client.streamable_http import streamable_http_client as _client
        _NEW_API = True
    except ImportError:
        from mcp.client.streamable_http import streamablehttp_client as _client
        _NEW_API = False
except ImportError:
    sys.exit(77)

BASE, KEY, OTHER_KEY = sys.argv[1], sys.argv[2], sys.argv[3]
URL = BASE + "/mcp"
TOOLS = {"create_sandbox", "list_sandboxes", "run_command", "read_file", "write_file", "list_files",
         "search_files", "start_dev_server", "get_preview_url", "delete_sandbox"}


def ok(what):
    print("ok:", what, flush=True)


def check(condition, what, detail=""):
    if not condition:
        raise AssertionError(f"{what}: {detail}")
    ok(what)


class Session:
    """One MCP session for `key`: initialized, with helpers that answer (is_error, structured, text)."""

    def __init__(self, key):
        self.key = key

    async def __aenter__(self):
        headers = {"Authorization": f"Bearer {self.key}"}
        self._stack = contextlib.AsyncExitStack()
        await self._stack.__aenter__()
        if _NEW_API:
            http = await self._stack.enter_async_context(httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(60, read=120)))
            streams = await self._stack.enter_async_context(_client(URL, http_client=http))
        else:
            streams = await self._stack.enter_async_context(_client(URL, headers=headers))
        self._session = await self._stack.enter_async_context(ClientSession(streams[0], streams[1]))
        self.init = await self._session.initialize()
        return self

    async def __aexit__(self, *exc):
        return await self._stack.__aexit__(*exc)

    async def tools(self):
        return await self._session.list_tools()

    async def call(self, tool, /, **arguments):
        result = await self._session.call_tool(tool, arguments)
        text = "".join(getattr(c, "text", "") for c in result.content)
        structured = getattr(result, "structured_content", None)
        if structured is None:
            structured = getattr(result, "structuredContent", None)
        return bool(result.is_error if hasattr(result, "is_error") else result.isError), structured or {}, text


def refused(answer, code):
    is_error, structured, text = answer
    return is_error and structured.get("code") == code and text.startswith(code)


async def raw_initialize(client, key):
    """A bare `initialize` POST; answers (status, session id)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}
    async with client.stream("POST", URL, json=body, headers=headers) as response:
        await response.aread()
        return response.status_code, response.headers.get("mcp-session-id")


async def raw_post(client, key, session_id, message):
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "Mcp-Session-Id": session_id}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    response = await client.post(URL, json=message, headers=headers)
    return response.status_code


async def main():
    async with httpx.AsyncClient(timeout=30) as client:
        # Keys are checked at the HTTP layer, before any MCP handling.
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}}}
        accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        wrong = await client.post(URL, json=body, headers={**accept, "Authorization": "Bearer sbx_wrong"})
        check(wrong.status_code == 401 and wrong.json().get("code") == "UNAUTHORIZED", "a wrong key gets 401", wrong.text)
        missing = await client.post(URL, json=body, headers=accept)
        check(missing.status_code == 401, "no key gets 401", missing.text)

        # A session belongs to the key that opened it.
        status, session_id = await raw_initialize(client, KEY)
        check(status == 200 and session_id, "a raw initialize opens a session", f"{status} {session_id}")
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        stolen = await raw_post(client, OTHER_KEY, session_id, note)
        check(stolen == 404, "another key using the session id gets 404", stolen)
        check(await raw_post(client, None, session_id, note) == 401, "the session id without a key gets 401")
        check(await raw_post(client, KEY, session_id, note) == 202, "its own key reaches it")
        ended = await client.delete(URL, headers={"Authorization": f"Bearer {KEY}", "Mcp-Session-Id": session_id})
        check(ended.status_code == 200, "DELETE ends the session", ended.status_code)
        check(await raw_post(client, KEY, session_id, note) == 404, "an ended session answers 404")

    async with Session(KEY) as mine, Session(OTHER_KEY) as theirs:
        check(mine.init.server_info.name == "sandbox-host", "initialize names the server", mine.init.server_info)
        listed = await mine.tools()
        names = {tool.name for tool in listed.tools}
        check(names == TOOLS, "the ten tools are listed", names)
        schemas = {tool.name: tool.input_schema if hasattr(tool, "input_schema") else tool.inputSchema for tool in listed.tools}
        check(schemas["run_command"]["required"] == ["sandbox_id", "command"], "run_command's schema", schemas["run_command"])
        check(all(tool.description for tool in listed.tools), "every tool is described")

        error, created, _ = await mine.call("create_sandbox", name="mcp-test")
        check(not error and created.get("sandbox_id") and created.get("state") == "running", "create_sandbox", created)
        sandbox = created["sandbox_id"]
        error, listing, _ = await mine.call("list_sandboxes")
        check(any(s["sandbox_id"] == sandbox and s["state"] == "running" for s in listing["sandboxes"]), "list_sandboxes", listing)

        error, run, text = await mine.call("run_command", sandbox_id=sandbox, command="echo out; echo err >&2; exit 3")
        check(not error and run["exit_code"] == 3 and run["stdout"] == "out\n" and run["stderr"] == "err\n",
              "run_command: stdout, stderr, exit code", run)
        check("exit_code: 3" in text and "out" in text and "err" in text, "run_command's text", text)
        error, timed, _ = await mine.call("run_command", sandbox_id=sandbox, command="sleep 30", timeout=0.5)
        check(not error and timed["timed_out"] and timed["exit_code"] == 124, "run_command's timeout", timed)

        error, written, _ = await mine.call("write_file", sandbox_id=sandbox, path="src/hello.txt", content="hello world\nsecond line\n")
        check(not error and written == {"path": "/workspace/src/hello.txt", "size": 24}, "write_file", written)
        error, read, text = await mine.call("read_file", sandbox_id=sandbox, path="/workspace/src/hello.txt")
        check(not error and read["content"] == "hello world\nsecond line\n" and text == read["content"], "read_file", read)
        error, files, _ = await mine.call("list_files", sandbox_id=sandbox, path="src")
        check(not error and [f["name"] for f in files["files"]] == ["hello.txt"] and files["files"][0]["size"] == 24, "list_files", files)
        error, found, _ = await mine.call("search_files", sandbox_id=sandbox, query="second")
        check(not error and found["matches"] == [{"path": "/workspace/src/hello.txt", "line": 2, "text": "second line"}],
              "search_files", found)
        error, seen, _ = await mine.call("run_command", sandbox_id=sandbox, command="cat /workspace/src/hello.txt")
        check(seen["stdout"] == "hello world\nsecond line\n", "the sandbox sees what write_file wrote", seen)

        # Failures are isError results with the contract's code, and change nothing.
        error, before, _ = await mine.call("list_files", sandbox_id=sandbox)
        check(refused(await mine.call("read_file", sandbox_id=sandbox, path="missing.txt"), "NOT_FOUND"), "a missing path is NOT_FOUND")
        for path in ["../../etc/passwd", "/etc/passwd", "src/../../../etc/passwd"]:
            check(refused(await mine.call("read_file", sandbox_id=sandbox, path=path), "VALIDATION_ERROR"), f"read_file {path} is refused")
        check(refused(await mine.call("write_file", sandbox_id=sandbox, path="../../etc/passwd", content="x"), "VALIDATION_ERROR"),
              "write_file through a traversal is refused")
        check(refused(await mine.call("list_files", sandbox_id=sandbox, path="../.."), "VALIDATION_ERROR"), "list_files outside is refused")
        check(refused(await mine.call("run_command", sandbox_id=sandbox, command=""), "VALIDATION_ERROR"), "an empty command is refused")
        check(refused(await mine.call("run_command", sandbox_id=sandbox, command="true", timeout="soon"), "VALIDATION_ERROR"),
              "a bad argument type is refused")
        check(refused(await mine.call("run_command", sandbox_id=sandbox, command="true", tiemout=5), "VALIDATION_ERROR"),
              "an unknown argument is refused")
        error, after, _ = await mine.call("list_files", sandbox_id=sandbox)
        check(before == after, "the refusals changed nothing", f"{before} {after}")

        # Another user's sandbox is NOT_FOUND, as a missing one, and stays as it was.
        error, other, _ = await theirs.call("create_sandbox", name="theirs")
        other_sandbox = other["sandbox_id"]
        await theirs.call("write_file", sandbox_id=other_sandbox, path="secret.txt", content="mine")
        for name, arguments in [("read_file", {"path": "secret.txt"}), ("write_file", {"path": "secret.txt", "content": "pwned"}),
                                ("list_files", {}), ("search_files", {"query": "mine"}), ("run_command", {"command": "echo pwned > secret.txt"}),
                                ("start_dev_server", {"command": "sleep 100"}), ("get_preview_url", {"port": 8000}),
                                ("delete_sandbox", {})]:
            check(refused(await mine.call(name, sandbox_id=other_sandbox, **arguments), "NOT_FOUND"), f"{name} on another user's sandbox")
        check(refused(await mine.call("create_sandbox", project_id=other["project_id"]), "NOT_FOUND"), "create_sandbox on another's project")
        check(refused(await mine.call("delete_sandbox", sandbox_id="no-such-sandbox"), "NOT_FOUND"), "an unknown sandbox is NOT_FOUND")
        error, kept, _ = await theirs.call("read_file", sandbox_id=other_sandbox, path="secret.txt")
        check(kept.get("content") == "mine", "the other user's file is untouched", kept)
        error, theirs_listing, _ = await theirs.call("list_sandboxes")
        check([s["sandbox_id"] for s in theirs_listing["sandboxes"]] == [other_sandbox], "each key lists its own", theirs_listing)
        error, mine_listing, _ = await mine.call("list_sandboxes")
        check(other_sandbox not in json.dumps(mine_listing), "nor does mine list theirs")

        # A dev server and its preview.
        error, started, _ = await mine.call("start_dev_server", sandbox_id=sandbox, command="python3 -m http.server 8123", port=8123)
        check(not error and started["status"] == "starting", "start_dev_server", started)
        preview = {}
        for _ in range(150):
            error, preview, _ = await mine.call("get_preview_url", sandbox_id=sandbox, port=8123)
            if preview.get("status") == "available":
                break
            await asyncio.sleep(0.1)
        check(preview.get("status") == "available" and f"8123-{sandbox}." in preview["preview_url"]
              and "preview_token=" in preview["preview_url"], "get_preview_url", preview)
        # The token in the URL becomes a cookie on a redirect to the same page.
        async with httpx.AsyncClient(timeout=10, follow_redirects=True) as client:
            page = await client.get(preview["path_url"])
            check(page.status_code == 200 and "src/" in page.text, "the preview URL serves the dev server", page.status_code)
        error, idle, _ = await mine.call("get_preview_url", sandbox_id=sandbox, port=8124)
        check(idle == {"preview_url": None, "path_url": None, "port": 8124, "status": "dev_server_not_running"}, "a port nothing listens on", idle)

        # Five sessions at once, each running its own command.
        async def one(index):
            async with Session(KEY) as session:
                return await session.call("run_command", sandbox_id=sandbox, command=f"echo session-{index}")
        answers = await asyncio.gather(*(one(index) for index in range(5)))
        check([a[1].get("stdout") for a in answers] == [f"session-{i}\n" for i in range(5)], "five concurrent sessions", answers)

        error, deleted, _ = await mine.call("delete_sandbox", sandbox_id=sandbox)
        check(not error and deleted == {"deleted": True, "sandbox_id": sandbox}, "delete_sandbox", deleted)
        check(refused(await mine.call("run_command", sandbox_id=sandbox, command="true"), "NOT_FOUND"), "a deleted sandbox is gone")
        error, listing, _ = await mine.call("list_sandboxes")
        check(all(s["sandbox_id"] != sandbox for s in listing["sandboxes"]), "and not listed", listing)
        error, kept, _ = await theirs.call("read_file", sandbox_id=other_sandbox, path="secret.txt")
        check(kept.get("content") == "mine", "the other user's sandbox is still there", kept)
    # The high-level client of mcp >= 2 probes the 2026 protocol's `server/discover` first, then
    # falls back to the initialize handshake this server speaks.
    try:
        from mcp import Client
    except ImportError:
        Client = None
    if Client is not None and _NEW_API:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as http:
            async with Client(_client(URL, http_client=http)) as client:
                listed = await client.list_tools()
                check({tool.name for tool in listed.tools} == TOOLS, "the default (auto-negotiating) client falls back to initialize")
    print("all checks passed", flush=True)


asyncio.run(main())
