"""Agent runs, synchronously: a :class:`Thread` of a project and the :class:`AgentRun`s on it."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Union

from ._config import ConnectionConfig
from ._transport import SyncTransport
from .models import AgentEvent


class Thread:
    """A chat thread of a project; agent runs happen on it, one at a time."""

    def __init__(self, thread_id: str, project_id: str, transport: SyncTransport, *, owns_transport: bool = False) -> None:
        self.thread_id = thread_id
        self.project_id = project_id
        self._transport = transport
        self._owns_transport = owns_transport

    @property
    def id(self) -> str:
        return self.thread_id

    def close(self) -> None:
        """Closes the HTTP connections this object opened itself (none when it shares a sandbox's)."""
        if self._owns_transport:
            self._transport.close()

    def __repr__(self) -> str:
        return f"Thread(thread_id={self.thread_id!r}, project_id={self.project_id!r})"

    @classmethod
    def create(cls, project_id: str, *, transport: SyncTransport | None = None, base_url: str | None = None,
               api_key: str | None = None) -> "Thread":
        owned = transport is None
        transport = transport or SyncTransport(ConnectionConfig.resolve(base_url, api_key))
        body = transport.json("POST", "/api/threads", json={"project_id": project_id})
        return cls(body["thread_id"], body["project_id"], transport, owns_transport=owned)

    def messages(self) -> list[dict[str, Any]]:
        return self._transport.json("GET", f"/api/threads/{self.thread_id}/messages")["messages"]

    def runs(self) -> list[dict[str, Any]]:
        """The thread's runs, newest first."""
        return self._transport.json("GET", f"/api/thread/{self.thread_id}/agent-runs")["agent_runs"]


class AgentRun:
    """One run of the agent on a thread.

    ``AgentRun.start(thread, "message")`` starts it; ``events()`` is a generator over its event
    stream from the first event (or after ``last_event_id``) to the final ``status``, resumed
    with ``Last-Event-ID`` when the connection drops: no event is skipped or repeated.
    """

    def __init__(self, agent_run_id: str, transport: SyncTransport, *, thread_id: str | None = None,
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

    def close(self) -> None:
        """Closes the HTTP connections this object opened itself (none when it shares a sandbox's)."""
        if self._owns_transport:
            self._transport.close()

    def __repr__(self) -> str:
        return f"AgentRun(agent_run_id={self.agent_run_id!r}, thread_id={self.thread_id!r})"

    @classmethod
    def start(cls, thread: Union[Thread, str], message: str | None = None, *, model: str | None = None,
              max_steps: int | None = None, base_url: str | None = None, api_key: str | None = None) -> "AgentRun":
        """Starts a run on ``thread`` (a :class:`Thread` or a thread id), with ``message`` as the
        user's next message. ``ConflictError`` when a run is already active on the thread."""
        if isinstance(thread, Thread):
            transport, thread_id = thread._transport, thread.thread_id
        else:
            transport, thread_id = SyncTransport(ConnectionConfig.resolve(base_url, api_key)), thread
        owned = not isinstance(thread, Thread)
        body: dict[str, Any] = {}
        for key, value in (("message", message), ("model_name", model), ("max_steps", max_steps)):
            if value is not None:
                body[key] = value
        started = transport.json("POST", f"/api/thread/{thread_id}/agent/start", json=body)
        return cls(started["agent_run_id"], transport, thread_id=thread_id, owns_transport=owned)

    @classmethod
    def initiate(cls, prompt: str, *, model: str | None = None, project_name: str | None = None,
                 base_url: str | None = None, api_key: str | None = None) -> "AgentRun":
        """Creates a project, its sandbox and a thread, and starts a run of ``prompt`` on it."""
        transport = SyncTransport(ConnectionConfig.resolve(base_url, api_key))
        body: dict[str, Any] = {"prompt": prompt}
        if model is not None:
            body["model_name"] = model
        if project_name is not None:
            body["project_name"] = project_name
        made = transport.json("POST", "/api/agent/initiate", json=body, timeout=max(transport.config.timeout, 120.0))
        return cls(made["agent_run_id"], transport, thread_id=made["thread_id"], project_id=made["project_id"],
                   sandbox_id=made["sandbox_id"], owns_transport=True)

    def events(self, last_event_id: int | None = None) -> Iterator[AgentEvent]:
        """The run's events until its final ``status`` (``completed``, ``failed``, ``stopped``).
        Starts after ``last_event_id`` when given, else where this object's previous
        ``events()`` left off (from the first event the first time)."""
        start = last_event_id if last_event_id is not None else self.last_event_id
        for event in self._transport.follow(f"/api/agent-run/{self.agent_run_id}/stream", last_event_id=start,
                                            done=lambda e: _as_agent_event(e).is_final):
            agent_event = _as_agent_event(event)
            if event.id is not None:
                self.last_event_id = event.id
            yield agent_event

    def wait(self) -> str:
        """Follows the run to its end; answers its final status."""
        final = "running"
        for event in self.events():
            if event.is_final:
                final = str(event.data["status"])
        return final

    def stop(self) -> dict[str, Any]:
        return self._transport.json("POST", f"/api/agent-run/{self.agent_run_id}/stop")

    def info(self) -> dict[str, Any]:
        """``{"id", "thread_id", "status", "model", "started_at", "completed_at", "error", "usage"}``."""
        return self._transport.json("GET", f"/api/agent-run/{self.agent_run_id}")

    def status(self) -> str:
        return str(self._transport.json("GET", f"/api/agent-run/{self.agent_run_id}/status")["status"])


def _as_agent_event(event: Any) -> AgentEvent:
    data: Mapping[str, Any] = event.data
    sequence = data.get("sequence", event.id)
    return AgentEvent(type=str(data.get("type", "")), sequence=int(sequence) if sequence is not None else 0, data=dict(data))
