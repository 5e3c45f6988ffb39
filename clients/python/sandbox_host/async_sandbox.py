"""The asyncio client: :class:`AsyncSandbox`, the same shape as :class:`Sandbox` with ``await``."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from urllib.parse import quote
from contextlib import aclosing
from typing import IO, TYPE_CHECKING, Any, AsyncIterator, Callable, Literal, Mapping, Union

from ._config import ConnectionConfig
from ._sse import ServerSentEvent
from ._transport import AsyncTransport
from .errors import NotFoundError, SandboxHostError, SandboxUnavailableError
from .models import ArchiveResult, CommandResult, EntryInfo, OutputChunk, WriteInfo
from .sandbox import REQUEST_MARGIN, _command_body, _pick_project, _session_name

if TYPE_CHECKING:
    from .async_agent import AsyncThread

# A callback may be a plain function or a coroutine function.
OutputCallback = Callable[[str], Any]


async def _call(callback: OutputCallback | None, data: str) -> None:
    if callback is not None:
        result = callback(data)
        if inspect.isawaitable(result):
            await result


class AsyncSandbox:
    """As :class:`sandbox_host.Sandbox`; every call is awaited, streams are ``async for``."""

    def __init__(self, *, sandbox_id: str, project_id: str, transport: AsyncTransport,
                 project: Mapping[str, Any] | None = None) -> None:
        self.sandbox_id = sandbox_id
        self.project_id = project_id
        self.project = dict(project or {})
        self._transport = transport
        self.commands = AsyncCommands(self)
        self.files = AsyncFiles(self)
        self.dev_server = AsyncDevServers(self)

    @property
    def id(self) -> str:
        return self.sandbox_id

    def __repr__(self) -> str:
        return f"AsyncSandbox(sandbox_id={self.sandbox_id!r}, project_id={self.project_id!r})"

    @classmethod
    async def create(cls, project: str = "sandbox", *, description: str | None = None, image: str | None = None,
                     network: Mapping[str, Any] | None = None, limits: Mapping[str, Any] | None = None,
                     base_url: str | None = None, api_key: str | None = None,
                     timeout: float | None = None) -> "AsyncSandbox":
        """Creates a new project named ``project`` and starts its sandbox."""
        transport = AsyncTransport(ConnectionConfig.resolve(base_url, api_key, timeout))
        try:
            body: dict[str, Any] = {"name": project}
            for key, value in (("description", description), ("image", image), ("network", network), ("limits", limits)):
                if value is not None:
                    body[key] = value
            created = await transport.json("POST", "/api/projects", json=body)
            try:
                return await cls._activate(transport, created)
            except Exception:
                # Nothing half-made is left behind: the project whose sandbox did not start goes.
                try:
                    await transport.request("DELETE", f"/api/projects/{created['project_id']}")
                except SandboxHostError:
                    pass
                raise
        except BaseException:
            await transport.close()
            raise

    @classmethod
    async def connect(cls, id_or_name: str, *, base_url: str | None = None, api_key: str | None = None,
                      timeout: float | None = None) -> "AsyncSandbox":
        """Opens an existing sandbox by sandbox id, project id or project name."""
        transport = AsyncTransport(ConnectionConfig.resolve(base_url, api_key, timeout))
        try:
            projects = (await transport.json("GET", "/api/projects"))["projects"]
            return await cls._activate(transport, _pick_project(projects, id_or_name))
        except BaseException:
            await transport.close()
            raise

    @classmethod
    async def _activate(cls, transport: AsyncTransport, project: Mapping[str, Any]) -> "AsyncSandbox":
        active = await transport.json("POST", f"/api/project/{project['project_id']}/sandbox/ensure-active",
                                      timeout=max(transport.config.timeout, 120.0))
        return cls(sandbox_id=active["sandbox_id"], project_id=project["project_id"], transport=transport, project=project)

    async def info(self) -> dict[str, Any]:
        return await self._transport.json("GET", f"/api/sandboxes/{self.sandbox_id}")

    async def is_running(self) -> bool:
        return (await self.info()).get("state") == "running"

    async def kill(self) -> None:
        """Deletes the sandbox (its processes end; the project keeps its files)."""
        await self._transport.request("DELETE", f"/api/sandboxes/{self.sandbox_id}", timeout=max(self._transport.config.timeout, 120.0))

    async def delete(self) -> None:
        """Deletes the project: its sandbox, its files, its threads."""
        await self._transport.request("DELETE", f"/api/projects/{self.project_id}", timeout=max(self._transport.config.timeout, 120.0))

    async def create_thread(self) -> "AsyncThread":
        from .async_agent import AsyncThread
        return await AsyncThread.create(self.project_id, transport=self._transport)

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        try:
            await self.kill()
        except NotFoundError:
            pass  # deleted inside the block
        except SandboxHostError:
            if exc_type is None:
                raise  # else the block's own exception is the one to see
        finally:
            await self.close()


class AsyncCommands:
    def __init__(self, sandbox: AsyncSandbox) -> None:
        self._sandbox = sandbox

    async def run(self, cmd: str, *, timeout: float | None = 60, cwd: str | None = None,
                  envs: Mapping[str, str] | None = None, on_stdout: OutputCallback | None = None,
                  on_stderr: OutputCallback | None = None, background: bool = False,
                  session: str | None = None) -> Any:
        """As :meth:`sandbox_host.sandbox.Commands.run`; callbacks may be coroutine functions."""
        transport = self._sandbox._transport
        path = f"/api/sandboxes/{self._sandbox.sandbox_id}/execute"
        if background or on_stdout is not None or on_stderr is not None:
            body = _command_body(cmd, timeout, cwd, envs) | {"blocking": False, "session_name": session or _session_name()}
            started = await transport.json("POST", path, json=body, timeout=max(transport.config.timeout, 120.0))
            handle = AsyncCommandHandle(self._sandbox, session=started["session_name"], command_id=started["command_id"],
                                        on_stdout=on_stdout, on_stderr=on_stderr)
            return handle if background else await handle.wait(timeout=timeout)
        wait = (timeout if timeout is not None else 60.0) + REQUEST_MARGIN
        return CommandResult.from_json(await transport.json("POST", path, json=_command_body(cmd, timeout, cwd, envs), timeout=wait))

    async def kill_session(self, session: str) -> None:
        await self._sandbox._transport.request("DELETE", f"/api/sandboxes/{self._sandbox.sandbox_id}/sessions/{quote(session, safe='')}")

    async def sessions(self) -> list[dict[str, Any]]:
        return (await self._sandbox._transport.json("GET", f"/api/sandboxes/{self._sandbox.sandbox_id}/sessions"))["sessions"]


class AsyncCommandHandle:
    """As :class:`sandbox_host.sandbox.CommandHandle`, for ``async for`` and ``await``."""

    def __init__(self, sandbox: AsyncSandbox, *, session: str, command_id: str,
                 on_stdout: OutputCallback | None = None, on_stderr: OutputCallback | None = None) -> None:
        self._sandbox = sandbox
        self.session = session
        self.command_id = command_id
        self.exit_code: int | None = None
        self._on_stdout, self._on_stderr = on_stdout, on_stderr
        self._last_id: int | None = None
        self._out: list[str] = []
        self._err: list[str] = []
        self._both: list[str] = []
        self._started = time.monotonic()

    def __repr__(self) -> str:
        return f"AsyncCommandHandle(session={self.session!r}, command_id={self.command_id!r}, exit_code={self.exit_code!r})"

    async def stream(self) -> AsyncIterator[OutputChunk]:
        """The command's output chunks until it exits (then ``exit_code`` is set)."""
        if self.exit_code is not None:
            return
        path = f"/api/sandboxes/{self._sandbox.sandbox_id}/sessions/{quote(self.session, safe='')}/stream"
        mine = self.command_id
        events = self._sandbox._transport.follow(
            path, last_event_id=self._last_id, done=lambda e: e.type == "exit" and e.data.get("command_id") == mine)
        async with aclosing(events):
            async for event in events:
                if event.id is not None:
                    self._last_id = event.id
                if event.data.get("command_id") != mine:
                    continue
                if event.type == "log":
                    chunk = OutputChunk(stream="stderr" if event.data.get("stream") == "stderr" else "stdout",
                                        data=str(event.data.get("data", "")))
                    (self._out if chunk.stream == "stdout" else self._err).append(chunk.data)
                    self._both.append(chunk.data)
                    await _call(self._on_stdout if chunk.stream == "stdout" else self._on_stderr, chunk.data)
                    yield chunk
                elif event.type == "exit":
                    code = event.data.get("exit_code")
                    self.exit_code = int(code) if code is not None else -1

    async def wait(self, timeout: float | None = None) -> CommandResult:
        """Follows the command to its exit; past ``timeout`` it is killed and the result says
        ``timed_out`` (exit code 124)."""
        try:
            async with asyncio.timeout(timeout), aclosing(self.stream()) as chunks:
                async for _ in chunks:
                    pass
        except TimeoutError:
            await self.kill()
            return self._result(exit_code=124, timed_out=True)
        return self._result(exit_code=self.exit_code if self.exit_code is not None else -1)

    def _result(self, exit_code: int, timed_out: bool = False) -> CommandResult:
        return CommandResult(stdout="".join(self._out), stderr="".join(self._err), output="".join(self._both),
                             exit_code=exit_code, timed_out=timed_out,
                             duration_ms=int((time.monotonic() - self._started) * 1000))

    async def kill(self) -> None:
        await self._sandbox.commands.kill_session(self.session)


class AsyncFiles:
    def __init__(self, sandbox: AsyncSandbox) -> None:
        self._sandbox = sandbox

    @property
    def _base(self) -> str:
        return f"/api/sandboxes/{self._sandbox.sandbox_id}"

    async def write(self, path: str, data: Union[str, bytes]) -> WriteInfo:
        content = data.encode("utf-8") if isinstance(data, str) else data
        body = await self._sandbox._transport.json("PUT", self._base + "/files/content", params={"path": path},
                                                   content=content, headers={"Content-Type": "application/octet-stream"})
        return WriteInfo(path=body["path"], size=int(body["size"]))

    async def write_files(self, files: Mapping[str, Union[str, bytes]], path: str = "/workspace") -> list[WriteInfo]:
        """As :meth:`sandbox_host.sandbox.Files.write_files`."""
        if len(files) == 1:
            ((name, data),) = files.items()
            return [await self.write(path.rstrip("/") + "/" + name.lstrip("/"), data)]
        parts = [("file", (name, data.encode("utf-8") if isinstance(data, str) else data, "application/octet-stream"))
                 for name, data in files.items()]
        body = await self._sandbox._transport.json("POST", self._base + "/files", data={"path": path}, files=parts,
                                                   timeout=max(self._sandbox._transport.config.timeout, 300.0))
        return [WriteInfo(path=entry["path"], size=int(entry["size"])) for entry in body["files"]]

    async def read(self, path: str, format: Literal["text", "bytes"] = "text") -> Any:
        response = await self._sandbox._transport.request("GET", self._base + "/files/content", params={"path": path})
        return response.content if format == "bytes" else response.content.decode("utf-8")

    async def list(self, path: str = "/workspace") -> list[EntryInfo]:
        body = await self._sandbox._transport.json("GET", self._base + "/files", params={"path": path})
        return [EntryInfo.from_json(entry) for entry in body["files"]]

    async def exists(self, path: str) -> bool:
        parent, _, name = path.rstrip("/").rpartition("/")
        try:
            return any(entry.name == name for entry in await self.list(parent or "/workspace"))
        except NotFoundError:
            return False

    async def remove(self, path: str) -> None:
        await self._sandbox._transport.request("DELETE", self._base + "/files", params={"path": path})

    async def move(self, source: str, destination: str) -> str:
        return (await self._sandbox._transport.json("POST", self._base + "/files/move",
                                                    json={"from": source, "to": destination}))["path"]

    async def search(self, query: str, *, path: str | None = None, glob: str | None = None) -> list[dict[str, Any]]:
        return (await self._sandbox._transport.json("GET", self._base + "/files/search",
                                                    params={"query": query, "path": path, "glob": glob}))["matches"]

    async def upload_archive(self, archive: Union[str, os.PathLike[str], bytes], path: str = "/workspace") -> ArchiveResult:
        """Extracts a ``.tar``, ``.tar.gz`` or ``.zip`` (bytes, or the path of a local file, streamed)."""
        transport = self._sandbox._transport
        content: Any = archive
        if isinstance(archive, (str, os.PathLike)):
            content = _file_chunks(os.fspath(archive))
        body = await transport.json("POST", self._base + "/files/archive", params={"path": path}, content=content,
                                    headers={"Content-Type": "application/octet-stream"},
                                    timeout=max(transport.config.timeout, 300.0))
        return ArchiveResult(extracted=int(body.get("extracted", 0)), skipped=list(body.get("skipped", [])))

    async def download(self, path: str | None = None, *, format: Literal["zip", "tar.gz", "tar"] = "zip",
                       all: bool = False, to: Union[str, os.PathLike[str], IO[bytes], None] = None) -> Any:
        """The tree as an archive, streamed to ``to`` (a local path or a binary file), else bytes."""
        transport = self._sandbox._transport
        params = {"format": format, "path": path, "all": True if all else None}
        async with transport.stream("GET", self._base + "/download-archive", params=params,
                                    timeout=max(transport.config.timeout, 300.0)) as response:
            if to is None:
                return await response.aread()
            if isinstance(to, (str, os.PathLike)):
                with open(to, "wb") as file:
                    async for block in response.aiter_bytes():
                        file.write(block)
                return to
            async for block in response.aiter_bytes():
                to.write(block)
            return to


async def _file_chunks(path: str, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with open(path, "rb") as file:
        while True:
            block = await asyncio.to_thread(file.read, size)
            if not block:
                return
            yield block


class AsyncDevServers:
    def __init__(self, sandbox: AsyncSandbox) -> None:
        self._sandbox = sandbox

    async def start(self, command: str | None = None, *, port: int | None = None,
                    session_name: str | None = None) -> "AsyncDevServer":
        body: dict[str, Any] = {}
        for key, value in (("command", command), ("port", port), ("session_name", session_name)):
            if value is not None:
                body[key] = value
        transport = self._sandbox._transport
        started = await transport.json("POST", f"/api/sandboxes/{self._sandbox.sandbox_id}/dev-server/start",
                                       json=body, timeout=max(transport.config.timeout, 120.0))
        return AsyncDevServer(self._sandbox, started)

    async def preview_url(self, port: int) -> str | None:
        body = await self._sandbox._transport.json("GET", f"/api/sandboxes/{self._sandbox.sandbox_id}/preview-url",
                                                   params={"port": port})
        return body.get("preview_url")


class AsyncDevServer:
    def __init__(self, sandbox: AsyncSandbox, started: Mapping[str, Any]) -> None:
        self._sandbox = sandbox
        self.session_name: str = started["session_name"]
        self.command: str = started.get("command", "")
        self.command_id: str = started.get("command_id", "")
        self.port: int | None = started.get("port")
        self._url: str | None = None

    def __repr__(self) -> str:
        return f"AsyncDevServer(session_name={self.session_name!r}, command={self.command!r}, port={self.port!r})"

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        path = f"/api/sandboxes/{self._sandbox.sandbox_id}/dev-server/stream"
        events = self._sandbox._transport.follow(path, params={"session_name": self.session_name},
                                                 done=lambda e: e.type == "done")
        async with aclosing(events):
            async for event in events:
                if event.type == "preview_url":
                    self._url = event.data.get("url")
                    self.port = event.data.get("port", self.port)
                yield event

    async def wait_until_ready(self, timeout: float = 60.0) -> str:
        if self._url is not None:
            return self._url
        last_status = None
        async with asyncio.timeout(timeout), aclosing(self.events()) as events:
            async for event in events:
                if event.type == "preview_url":
                    return str(event.data["url"])
                if event.type == "status":
                    last_status = event.data.get("status")
        raise SandboxUnavailableError(f"the dev server ended (status {last_status!r}) before it listened")

    @property
    async def preview_url(self) -> str:
        return await self.wait_until_ready()

    async def stop(self) -> None:
        await self._sandbox.commands.kill_session(self.session_name)
