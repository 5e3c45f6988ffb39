"""Server-Sent Events: the parser (per the WHATWG rules the host writes) and the event type."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterable, Iterator


@dataclass(frozen=True)
class ServerSentEvent:
    """One event: its ``id`` (the host's sequence number; ``None`` for heartbeats), its name
    and its ``data`` parsed as JSON (``{}`` when it is not a JSON object)."""

    id: int | None
    event: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))


class SSEParser:
    """Feeds on lines (without their terminators) and answers the events they complete."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> ServerSentEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data and self._id is None:
            self._event = ""
            return None
        raw, ident, name = "\n".join(self._data), self._id, self._event or "message"
        self._data, self._id, self._event = [], None, ""
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"raw": raw}
        if not isinstance(data, dict):
            data = {"value": data}
        try:
            number = int(ident) if ident is not None and ident.strip() else None
        except ValueError:
            number = None
        return ServerSentEvent(id=number, event=name, data=data)


def iter_events(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    parser = SSEParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event


async def aiter_events(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    parser = SSEParser()
    async for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event
