"""Making, finding, stopping and deleting sandboxes; a background command's stream resumed after
its connection is cut."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from cut_proxy import CutProxy
from sandbox_host import NotFoundError, Sandbox, ValidationError


def test_create_connect_kill_delete(live_host):
    sandbox = Sandbox.create(project="sdk-lifecycle", description="made by the SDK's tests")
    try:
        assert sandbox.is_running()
        assert sandbox.project["name"] == "sdk-lifecycle"
        sandbox.files.write("kept.txt", "survives a kill")
        for key in (sandbox.sandbox_id, sandbox.project_id, "sdk-lifecycle"):
            again = Sandbox.connect(key)
            assert (again.sandbox_id, again.project_id) == (sandbox.sandbox_id, sandbox.project_id)
            assert again.files.read("kept.txt") == "survives a kill"
            again.close()
        with Sandbox.connect(sandbox.sandbox_id) as again:
            again.commands.run("sleep 60", background=True)
        # Leaving `with` killed the sandbox: its processes are gone, its project and files are not.
        with pytest.raises(NotFoundError):
            sandbox.info()
        reopened = Sandbox.connect(sandbox.project_id)
        assert reopened.sandbox_id != sandbox.sandbox_id
        assert reopened.commands.run("cat kept.txt").stdout == "survives a kill"
        assert "sleep 60" not in reopened.commands.run("ps -eo args").stdout
        reopened.close()
    finally:
        sandbox.delete()
        sandbox.close()
    with pytest.raises(NotFoundError):
        Sandbox.connect(sandbox.project_id)


def test_a_name_two_projects_share_is_ambiguous(live_host):
    first, second = Sandbox.create(project="twin"), Sandbox.create(project="twin")
    try:
        with pytest.raises(ValidationError, match="project_id"):
            Sandbox.connect("twin")
    finally:
        for box in (first, second):
            box.delete()
            box.close()


def test_background_stream_resumes_after_a_cut(live_host, sandbox):
    url = urlparse(live_host.base_url)
    proxy = CutProxy(url.hostname, url.port)
    through = Sandbox.connect(sandbox.sandbox_id, base_url=proxy.base_url)
    try:
        handle = through.commands.run("for i in $(seq 1 30); do echo $i; sleep 0.03; done", background=True)
        received = []
        for chunk in handle.stream(timeout=60):
            received.append(chunk.data)
            if len(received) == 5:
                assert proxy.cut("/stream") == 1
        assert "".join(received) == "".join(f"{i}\n" for i in range(1, 31))
        assert handle.exit_code == 0
        streams = [head for head in proxy.request_heads if "/stream" in head.split("\r\n", 1)[0]]
        assert len(streams) >= 2 and "last-event-id:" in streams[1].lower()
    finally:
        through.close()
        proxy.stop()
