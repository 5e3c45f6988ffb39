"""A dev server through the SDK: its preview URL, reachable through the host."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import httpx

from sandbox_host import AsyncSandbox


def test_dev_server_preview_url(live_host, sandbox):
    sandbox.files.write("site/index.html", "<h1>from the dev server</h1>")
    server = sandbox.dev_server.start("cd site && python3 -m http.server 3000", port=3000)
    url = server.preview_url
    assert url.startswith(f"http://3000-{sandbox.sandbox_id}.preview.localhost:{live_host.port}/")
    assert sandbox.dev_server.preview_url(3000) == url
    assert sandbox.dev_server.preview_url(3999) is None
    # The preview proxies to the server in the sandbox (Host-based: sent to the host's address).
    parsed = urlparse(url)
    grant = httpx.get(f"{live_host.base_url}{parsed.path}?{parsed.query}", headers={"Host": parsed.netloc}, timeout=30)
    assert grant.status_code == 302  # the token becomes the preview's cookie
    cookie = grant.headers["set-cookie"].split(";", 1)[0]
    page = httpx.get(live_host.base_url + "/", headers={"Host": parsed.netloc, "Cookie": cookie}, timeout=30)
    assert page.status_code == 200 and "from the dev server" in page.text
    server.stop()


def test_async_dev_server(live_host):
    async def scenario():
        sandbox = await AsyncSandbox.create(project="sdk-async-dev")
        try:
            server = await sandbox.dev_server.start("python3 -m http.server 3001", port=3001)
            url = await server.wait_until_ready(timeout=30)
            assert url.startswith("http://3001-")
            assert await sandbox.dev_server.preview_url(3001) == url
            await server.stop()
        finally:
            await sandbox.delete()
            await sandbox.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
