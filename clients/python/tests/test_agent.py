"""Agent runs against the fake model provider, with the event stream cut mid-run: the
generator resumes with Last-Event-ID, and the events come without a gap or a duplicate."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlparse

import pytest

from cut_proxy import CutProxy
from fake_model import FINAL_TEXT, TOOL_COMMAND
from sandbox_host import AgentEvent, AgentRun, AsyncAgentRun, AsyncThread, Thread
from sandbox_host._config import ConnectionConfig
from sandbox_host._transport import AsyncTransport, SyncTransport

# Content events of the final answer to see before cutting: the run is then still streaming it.
CUT_AFTER = 5


@pytest.fixture
def proxy(live_host):
    url = urlparse(live_host.base_url)
    relay = CutProxy(url.hostname, url.port)
    try:
        yield relay
    finally:
        relay.stop()


def _check_run(events: list[AgentEvent], cut_at: int | None, proxy: CutProxy) -> None:
    sequences = [event.sequence for event in events]
    assert sequences == list(range(1, len(events) + 1)), sequences  # no gap, no duplicate
    assert events[0].type == "status" and events[0]["status"] == "running"
    assert events[-1].is_final and events[-1]["status"] == "completed"
    text = "".join(event["content"] for event in events if event.type == "content")
    assert text == "Let me check." + FINAL_TEXT
    calls = [event for event in events if event.type == "tool_call"]
    results = [event for event in events if event.type == "tool_result"]
    assert [call["arguments"] for call in calls] == [{"command": TOOL_COMMAND}]
    assert len(results) == 1 and "from-the-agent" in results[0]["result"]
    # The cut happened mid-run, and the generator came back with the last id it had.
    assert cut_at is not None and proxy.cuts >= 1
    assert cut_at < len(events) - 1, "the run ended before the cut: nothing was resumed"
    resumed = [head for head in proxy.request_heads if "/stream" in head.split("\r\n", 1)[0]]
    assert len(resumed) >= 2
    assert re.search(rf"(?im)^last-event-id: {cut_at}$", resumed[1]), resumed[1]


def test_events_resume_after_a_dropped_connection(live_host, sandbox, proxy):
    transport = SyncTransport(ConnectionConfig.resolve(base_url=proxy.base_url))
    try:
        thread = Thread.create(sandbox.project_id, transport=transport)
        run = AgentRun.start(thread, "say hello")
        events: list[AgentEvent] = []
        final_pieces, cut_at = 0, None
        for event in run.events():
            events.append(event)
            if event.type == "content" and event["content"].startswith("[") and cut_at is None:
                final_pieces += 1
                if final_pieces == CUT_AFTER:
                    cut_at = event.sequence
                    assert proxy.cut("/stream") == 1
        _check_run(events, cut_at, proxy)
        assert run.info()["status"] == "completed"
        # A finished run replays from the start, and after a given id.
        assert [e.sequence for e in run.events(last_event_id=0)] == [e.sequence for e in events]
        assert [e.sequence for e in run.events(last_event_id=len(events) - 2)] == [len(events) - 1, len(events)]
    finally:
        transport.close()


def test_async_events_resume_after_a_dropped_connection(live_host, sandbox, proxy):
    async def scenario() -> tuple[list[AgentEvent], int | None]:
        transport = AsyncTransport(ConnectionConfig.resolve(base_url=proxy.base_url))
        try:
            thread = await AsyncThread.create(sandbox.project_id, transport=transport)
            run = await AsyncAgentRun.start(thread, "say hello")
            events: list[AgentEvent] = []
            final_pieces, cut_at = 0, None
            async for event in run.events():
                events.append(event)
                if event.type == "content" and event["content"].startswith("[") and cut_at is None:
                    final_pieces += 1
                    if final_pieces == CUT_AFTER:
                        cut_at = event.sequence
                        assert proxy.cut("/stream") == 1
            assert await run.status() == "completed"
            return events, cut_at
        finally:
            await transport.close()

    events, cut_at = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    _check_run(events, cut_at, proxy)


def test_run_stop_and_initiate(live_host):
    run = AgentRun.initiate("make something", project_name="sdk-initiate")
    try:
        assert run.project_id and run.thread_id and run.sandbox_id
        assert run.wait() == "completed"
        assert run.stop()["status"] == "completed"  # already ended: says so
        assert Thread(run.thread_id, run.project_id, run._transport).runs()[0]["id"] == run.agent_run_id
    finally:
        run._transport.request("DELETE", f"/api/projects/{run.project_id}")
        run.close()
