"""Agent runs with asyncio: :class:`AsyncThread` and :class:`AsyncAgentRun`."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, AsyncIterator, Union

from ._config import ConnectionConfig
from ._transport import AsyncTransport
from .agent import _as_agent_event
from .models import AgentEvent


class AsyncThread:
    """As :class:`sandbox_host.Thread`, awaited."""

    def __init__(self, thread_id: str, project_id: str, transport: AsyncTransport, *, owns_transport: bool = False) -> None:
        self.thread_id = thread_id
        self.project_id = project_id
        self._transport = transport
        self._owns_transport = owns_transport

    @property
    def id(self) -> str:
        return self.thread_id

    async def close(self) -> None:
        """Closes the HTTP connections this object opened itself (none when it shares a sandbox's)."""
        if self._owns_transport:
            await self._transport.close()

    def __repr__(self) -> str:
        return f"AsyncThread(thread_id={self.thread_id!r}, project_id={self.project_id!r})"

    @classmethod
    async def create(cls, project_id: str, *, transport: AsyncTransport | None = None, base_url: str | None = None,
                     api_key: str | None = None) -> "AsyncThread":
        owned = transport is None
        transport = transport or AsyncTransport(ConnectionConfig.resolve(base_url, api_key))
        body = await transport.json("POST", "/api/threads", json={"project_id": project_id})
        return cls(body["thread_id"], body["project_id"], transport, owns_transport=owned)

    async def messages(self) -> list[dict[str, Any]]:
        return (await self._transport.json("GET", f"/api/threads/{self.thread_id}/messages"))["messages"]

    async def runs(self) -> list[dict[str, Any]]:
        return (await self._transport.json("GET", f"/api/thread/{self.thread_id}/agent-runs"))["agent_runs"]


class AsyncAgentRun:
    """As :class:`sandbox_host.AgentRun`: ``await AsyncAgentRun.start(thread, msg)``, then
    ``async for event in run.events()`` (resumed with ``Last-Event-ID`` after a drop)."""

    def __init__(self, agent_run_id: str, transport: AsyncTransport, *, thread_id: str | None = None,
                 project_id: str | None = None, sandbox_id: str | None = None, owns_transport: bool = False) -> None:
        self.agent_run_id = agent_run_id
        self._owns_transport = owns_transport
        self.thread_id = thread_id
        self.project_id = project_id
        self.sandbox_id = sandbox_id
        self._transport = transport
        self.last_event_id: int | None = None

    @property
    def id(self) -> str:
        return self.agent_run_id

    async def close(self) -> None:
        """Closes the HTTP connections this object opened itself (none when it shares a sandbox's)."""
        if self._owns_transport:
            await self._transport.close()

    def __repr__(self) -> str:
        return f"AsyncAgentRun(agent_run_id={self.agent_run_id!r}, thread_id={self.thread_id!r})"

    @classmethod
    async def start(cls, thread: Union[AsyncThread, str], message: str | None = None, *, model: str | None = None,
                    max_steps: int | None = None, base_url: str | None = None,
                    api_key: str | None = None) -> "AsyncAgentRun":
        if isinstance(thread, AsyncThread):
            transport, thread_id = thread._transport, thread.thread_id
        else:
            transport, thread_id = AsyncTransport(ConnectionConfig.resolve(base_url, api_key)), thread
        owned = not isinstance(thread, AsyncThread)
        body: dict[str, Any] = {}
        for key, value in (("message", message), ("model_name", model), ("max_steps", max_steps)):
            if value is not None:
                body[key] = value
        started = await transport.json("POST", f"/api/thread/{thread_id}/agent/start", json=body)
        return cls(started["agent_run_id"], transport, thread_id=thread_id, owns_transport=owned)

    @classmethod
    async def initiate(cls, prompt: str, *, model: str | None = None, project_name: str | None = None,
                       base_url: str | None = None, api_key: str | None = None) -> "AsyncAgentRun":
        transport = AsyncTransport(ConnectionConfig.resolve(base_url, api_key))
        body: dict[str, Any] = {"prompt": prompt}
        if model is not None:
            body["model_name"] = model
        if project_name is not None:
            body["project_name"] = project_name
        made = await transport.json("POST", "/api/agent/initiate", json=body, timeout=max(transport.config.timeout, 120.0))
        return cls(made["agent_run_id"], transport, thread_id=made["thread_id"], project_id=made["project_id"],
                   sandbox_id=made["sandbox_id"], owns_transport=True)

    async def events(self, last_event_id: int | None = None) -> AsyncIterator[AgentEvent]:
        start = last_event_id if last_event_id is not None else self.last_event_id
        events = self._transport.follow(f"/api/agent-run/{self.agent_run_id}/stream", last_event_id=start,
                                        done=lambda e: _as_agent_event(e).is_final)
        async with aclosing(events):
            async for event in events:
                if event.id is not None:
                    self.last_event_id = event.id
                yield _as_agent_event(event)

    async def wait(self) -> str:
        final = "running"
        async with aclosing(self.events()) as events:
            async for event in events:
                if event.is_final:
                    final = str(event.data["status"])
        return final

    async def stop(self) -> dict[str, Any]:
        return await self._transport.json("POST", f"/api/agent-run/{self.agent_run_id}/stop")

    async def info(self) -> dict[str, Any]:
        return await self._transport.json("GET", f"/api/agent-run/{self.agent_run_id}")

    async def status(self) -> str:
        return str((await self._transport.json("GET", f"/api/agent-run/{self.agent_run_id}/status"))["status"])
