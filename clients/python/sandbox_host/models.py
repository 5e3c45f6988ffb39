"""What the SDK answers: plain dataclasses made from the host's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# The run's final statuses: its stream ends after one of them.
FINAL_RUN_STATUSES = frozenset({"completed", "failed", "stopped"})


@dataclass(frozen=True)
class CommandResult:
    """A finished command: ``stdout``, ``stderr``, ``output`` (both interleaved as produced),
    ``exit_code`` (124 after a timeout, when ``timed_out`` is true), ``truncated`` when output
    went past the host's cap (1 MiB per stream by default)."""

    stdout: str
    stderr: str
    exit_code: int
    output: str = ""
    timed_out: bool = False
    truncated: bool = False
    duration_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "CommandResult":
        return cls(stdout=body.get("stdout", ""), stderr=body.get("stderr", ""), exit_code=int(body.get("exit_code", -1)),
                   output=body.get("output", ""), timed_out=bool(body.get("timed_out", False)),
                   truncated=bool(body.get("truncated", False)), duration_ms=body.get("duration_ms"))


@dataclass(frozen=True)
class OutputChunk:
    """Output of a background command as it arrived: which stream, and the text."""

    stream: Literal["stdout", "stderr"]
    data: str


@dataclass(frozen=True)
class EntryInfo:
    """One entry of a directory listing."""

    name: str
    path: str
    is_dir: bool
    size: int
    mod_time: str | None = None
    permissions: str | None = None
    is_symlink: bool = False

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "EntryInfo":
        return cls(name=body["name"], path=body["path"], is_dir=bool(body.get("is_dir")), size=int(body.get("size") or 0),
                   mod_time=body.get("mod_time"), permissions=body.get("permissions"),
                   is_symlink=bool(body.get("is_symlink")))


@dataclass(frozen=True)
class WriteInfo:
    """A file written: its path in the sandbox and its size in bytes."""

    path: str
    size: int


@dataclass(frozen=True)
class ArchiveResult:
    """An archive extracted: how many entries landed, and those refused (``name``, ``reason``)."""

    extracted: int
    skipped: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class AgentEvent:
    """One event of an agent run: ``type`` (``status``, ``content``, ``tool_call``,
    ``tool_result``, ``error``), its ``sequence`` (from 1, no gaps) and the whole ``data``."""

    type: str
    sequence: int
    data: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def is_final(self) -> bool:
        return self.type == "status" and self.data.get("status") in FINAL_RUN_STATUSES
