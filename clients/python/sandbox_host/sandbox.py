"""The synchronous client: a :class:`Sandbox` and its ``commands``, ``files`` and ``dev_server``."""

from __future__ import annotations

import os
import secrets
import time
from urllib.parse import quote
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, Union

from ._config import ConnectionConfig
from ._transport import SyncTransport
from .errors import NotFoundError, SandboxHostError, ValidationError
from .models import ArchiveResult, CommandResult, EntryInfo, OutputChunk, WriteInfo
from ._sse import ServerSentEvent

if TYPE_CHECKING:
    from .agent import Thread

OutputCallback = Callable[[str], Any]
Content = Union[str, bytes, IO[bytes]]
# Seconds added to a blocking command's own timeout for the HTTP request that waits for it.
REQUEST_MARGIN = 30.0


def _session_name() -> str:
    return f"sdk-{secrets.token_hex(6)}"


def _command_body(cmd: str, timeout: float | None, cwd: str | None, envs: Mapping[str, str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"command": cmd}
    if timeout is not None:
        body["timeout"] = timeout
    if cwd is not None:
        body["cwd"] = cwd
    if envs:
        body["env"] = dict(envs)
    return body


class Sandbox:
    """A project's sandbox on a sandbox-host.

    ``Sandbox.create(project="name")`` always creates a new project of that name and starts its
    sandbox; ``Sandbox.connect(x)`` opens an existing one, where ``x`` is a sandbox id, a project
    id or a project name. As a context manager it kills the sandbox on exit (its processes end;
    the project and its files stay: ``delete()`` removes those too).
    """

    def __init__(self, *, sandbox_id: str, project_id: str, transport: SyncTransport,
                 project: Mapping[str, Any] | None = None) -> None:
        self.sandbox_id = sandbox_id
        self.project_id = project_id
        self.project = dict(project or {})
        self._transport = transport
        self.commands = Commands(self)
        self.files = Files(self)
        self.dev_server = DevServers(self)

    @property
    def id(self) -> str:
        return self.sandbox_id

    def __repr__(self) -> str:
        return f"Sandbox(sandbox_id={self.sandbox_id!r}, project_id={self.project_id!r})"

    # MARK: making and finding

    @classmethod
    def create(cls, project: str = "sandbox", *, description: str | None = None, image: str | None = None,
               network: Mapping[str, Any] | None = None, limits: Mapping[str, Any] | None = None,
               base_url: str | None = None, api_key: str | None = None, timeout: float | None = None) -> "Sandbox":
        """Creates a new project named ``project`` and starts its sandbox."""
        transport = SyncTransport(ConnectionConfig.resolve(base_url, api_key, timeout))
        try:
            body: dict[str, Any] = {"name": project}
            for key, value in (("description", description), ("image", image), ("network", network), ("limits", limits)):
                if value is not None:
                    body[key] = value
            created = transport.json("POST", "/api/projects", json=body)
            try:
                return cls._activate(transport, created)
            except Exception:
                # Nothing half-made is left behind: the project whose sandbox did not start goes.
                try:
                    transport.request("DELETE", f"/api/projects/{created['project_id']}")
                except SandboxHostError:
                    pass
                raise
        except BaseException:
            transport.close()
            raise

    @classmethod
    def connect(cls, id_or_name: str, *, base_url: str | None = None, api_key: str | None = None,
                timeout: float | None = None) -> "Sandbox":
        """Opens an existing sandbox by sandbox id, project id or project name (started if it is
        stopped). A name several of your projects share raises ``ValidationError``."""
        transport = SyncTransport(ConnectionConfig.resolve(base_url, api_key, timeout))
        try:
            projects = transport.json("GET", "/api/projects")["projects"]
            return cls._activate(transport, _pick_project(projects, id_or_name))
        except BaseException:
            transport.close()
            raise

    @classmethod
    def _activate(cls, transport: SyncTransport, project: Mapping[str, Any]) -> "Sandbox":
        active = transport.json("POST", f"/api/project/{project['project_id']}/sandbox/ensure-active",
                                timeout=max(transport.config.timeout, 120.0))
        return cls(sandbox_id=active["sandbox_id"], project_id=project["project_id"], transport=transport, project=project)

    # MARK: the sandbox itself

    def info(self) -> dict[str, Any]:
        """The sandbox's record: ``state``, ``image``, ``limits``, ``created_at``, ``last_active_at``."""
        return self._transport.json("GET", f"/api/sandboxes/{self.sandbox_id}")

    def is_running(self) -> bool:
        return self.info().get("state") == "running"

    def kill(self) -> None:
        """Deletes the sandbox: every process of it ends. The project keeps its files; a later
        ``Sandbox.connect(project_id)`` starts a new sandbox on them."""
        self._transport.request("DELETE", f"/api/sandboxes/{self.sandbox_id}", timeout=max(self._transport.config.timeout, 120.0))

    def delete(self) -> None:
        """Deletes the project: its sandbox, its files, its threads."""
        self._transport.request("DELETE", f"/api/projects/{self.project_id}", timeout=max(self._transport.config.timeout, 120.0))

    def create_thread(self) -> "Thread":
        """A new chat thread in this sandbox's project, for :class:`AgentRun`."""
        from .agent import Thread
        return Thread.create(self.project_id, transport=self._transport)

    def close(self) -> None:
        """Closes the HTTP connections (the sandbox keeps running)."""
        self._transport.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self.kill()
        except NotFoundError:
            pass  # deleted inside the block
        except SandboxHostError:
            if exc_type is None:
                raise  # else the block's own exception is the one to see
        finally:
            self.close()


def _pick_project(projects: list[Mapping[str, Any]], id_or_name: str) -> Mapping[str, Any]:
    for project in projects:
        if id_or_name in (project.get("project_id"), project.get("sandbox_id")):
            return project
    named = [p for p in projects if p.get("name") == id_or_name]
    if len(named) == 1:
        return named[0]
    if named:
        raise ValidationError(f"{len(named)} projects are named {id_or_name!r}; pass a project_id", code="VALIDATION_ERROR")
    raise NotFoundError(f"no sandbox or project {id_or_name!r}", status=404)


class Commands:
    """``sandbox.commands``: commands under ``/bin/sh -c`` in the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def run(self, cmd: str, *, timeout: float | None = 60, cwd: str | None = None, envs: Mapping[str, str] | None = None,
            on_stdout: OutputCallback | None = None, on_stderr: OutputCallback | None = None,
            background: bool = False, session: str | None = None) -> Any:
        """Runs ``cmd`` and answers a :class:`CommandResult` once it exits.

        ``timeout`` (seconds) kills everything the command started; the result then has
        ``timed_out`` true and ``exit_code`` 124. With ``on_stdout``/``on_stderr`` the output is
        passed to them as it arrives (the command runs in a session of its own and its stream is
        followed). ``background=True`` answers a :class:`CommandHandle` at once (the command runs
        in ``session``, a new one unless named); ``handle.wait()`` gives the result.
        """
        transport = self._sandbox._transport
        path = f"/api/sandboxes/{self._sandbox.sandbox_id}/execute"
        if background or on_stdout is not None or on_stderr is not None:
            name = session or _session_name()
            body = _command_body(cmd, timeout, cwd, envs) | {"blocking": False, "session_name": name}
            started = transport.json("POST", path, json=body, timeout=max(transport.config.timeout, 120.0))
            handle = CommandHandle(self._sandbox, session=started["session_name"], command_id=started["command_id"],
                                   on_stdout=on_stdout, on_stderr=on_stderr)
            return handle if background else handle.wait(timeout=timeout)
        body = _command_body(cmd, timeout, cwd, envs)
        wait = (timeout if timeout is not None else 60.0) + REQUEST_MARGIN
        return CommandResult.from_json(transport.json("POST", path, json=body, timeout=wait))

    def kill_session(self, session: str) -> None:
        """Kills everything the session started."""
        self._sandbox._transport.request("DELETE", f"/api/sandboxes/{self._sandbox.sandbox_id}/sessions/{quote(session, safe='')}")

    def sessions(self) -> list[dict[str, Any]]:
        return self._sandbox._transport.json("GET", f"/api/sandboxes/{self._sandbox.sandbox_id}/sessions")["sessions"]


class CommandHandle:
    """A command running in a session. ``stream()`` yields its output as it comes (following the
    session's event stream, resumed after a dropped connection), ``wait()`` its result,
    ``kill()`` ends it and everything it started."""

    def __init__(self, sandbox: Sandbox, *, session: str, command_id: str,
                 on_stdout: OutputCallback | None = None, on_stderr: OutputCallback | None = None) -> None:
        self._sandbox = sandbox
        self.session = session
        self.command_id = command_id
        self.exit_code: int | None = None
        self._on_stdout, self._on_stderr = on_stdout, on_stderr
        self._last_id: int | None = None
        # Everything streamed so far: `wait()` after a partial `stream()` still answers it all.
        self._out: list[str] = []
        self._err: list[str] = []
        self._both: list[str] = []
        self._started = time.monotonic()

    def __repr__(self) -> str:
        return f"CommandHandle(session={self.session!r}, command_id={self.command_id!r}, exit_code={self.exit_code!r})"

    def _events(self, deadline: float | None) -> Iterator[ServerSentEvent]:
        path = f"/api/sandboxes/{self._sandbox.sandbox_id}/sessions/{quote(self.session, safe='')}/stream"
        mine = self.command_id

        def done(event: ServerSentEvent) -> bool:
            return event.type == "exit" and event.data.get("command_id") == mine

        for event in self._sandbox._transport.follow(path, last_event_id=self._last_id, done=done, deadline=deadline):
            if event.id is not None:
                self._last_id = event.id
            yield event

    def stream(self, timeout: float | None = None) -> Iterator[OutputChunk]:
        """The command's output chunks until it exits (then ``exit_code`` is set)."""
        if self.exit_code is not None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        for event in self._events(deadline):
            if event.data.get("command_id") != self.command_id:
                continue  # another command of the same session
            if event.type == "log":
                chunk = OutputChunk(stream="stderr" if event.data.get("stream") == "stderr" else "stdout",
                                    data=str(event.data.get("data", "")))
                (self._out if chunk.stream == "stdout" else self._err).append(chunk.data)
                self._both.append(chunk.data)
                callback = self._on_stdout if chunk.stream == "stdout" else self._on_stderr
                if callback is not None:
                    callback(chunk.data)
                yield chunk
            elif event.type == "exit":
                code = event.data.get("exit_code")
                self.exit_code = int(code) if code is not None else -1

    def wait(self, timeout: float | None = None) -> CommandResult:
        """Follows the command to its exit and answers its result (all its output, including
        what ``stream()`` already yielded); past ``timeout`` seconds it is killed (with
        everything it started) and the result says ``timed_out`` (exit code 124)."""
        try:
            for _ in self.stream(timeout=timeout):
                pass
        except TimeoutError:
            self.kill()
            return self._result(exit_code=124, timed_out=True)
        return self._result(exit_code=self.exit_code if self.exit_code is not None else -1)

    def _result(self, exit_code: int, timed_out: bool = False) -> CommandResult:
        return CommandResult(stdout="".join(self._out), stderr="".join(self._err), output="".join(self._both),
                             exit_code=exit_code, timed_out=timed_out,
                             duration_ms=int((time.monotonic() - self._started) * 1000))

    def kill(self) -> None:
        """Kills everything the command's session started."""
        self._sandbox.commands.kill_session(self.session)


class Files:
    """``sandbox.files``: the sandbox's ``/workspace`` (paths relative to it, or absolute in it).
    These work whether or not the sandbox runs."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    @property
    def _base(self) -> str:
        return f"/api/sandboxes/{self._sandbox.sandbox_id}"

    def write(self, path: str, data: Content) -> WriteInfo:
        """Writes a file (atomically; parent directories are created). ``data``: text (UTF-8),
        bytes, or a binary file object (streamed)."""
        content = data.encode("utf-8") if isinstance(data, str) else data
        body = self._sandbox._transport.json("PUT", self._base + "/files/content", params={"path": path}, content=content,
                                             headers={"Content-Type": "application/octet-stream"})
        return WriteInfo(path=body["path"], size=int(body["size"]))

    def write_files(self, files: Mapping[str, Content], path: str = "/workspace") -> list[WriteInfo]:
        """Writes several files in one request: ``files`` maps names relative to the directory
        ``path`` (subdirectories allowed) to their content. Every name is checked before the
        first file is written: one that leaves ``path`` refuses them all (``ValidationError``)."""
        if len(files) == 1:
            ((name, data),) = files.items()
            return [self.write(path.rstrip("/") + "/" + name.lstrip("/"), data)]
        parts = [("file", (name, data.encode("utf-8") if isinstance(data, str) else data, "application/octet-stream"))
                 for name, data in files.items()]
        body = self._sandbox._transport.json("POST", self._base + "/files", data={"path": path}, files=parts,
                                             timeout=max(self._sandbox._transport.config.timeout, 300.0))
        return [WriteInfo(path=entry["path"], size=int(entry["size"])) for entry in body["files"]]

    def read(self, path: str, format: Literal["text", "bytes"] = "text") -> Any:
        """A file's content: ``str`` (UTF-8) by default, ``bytes`` with ``format="bytes"``."""
        response = self._sandbox._transport.request("GET", self._base + "/files/content", params={"path": path})
        return response.content if format == "bytes" else response.content.decode("utf-8")

    def list(self, path: str = "/workspace") -> list[EntryInfo]:
        body = self._sandbox._transport.json("GET", self._base + "/files", params={"path": path})
        return [EntryInfo.from_json(entry) for entry in body["files"]]

    def exists(self, path: str) -> bool:
        parent, _, name = path.rstrip("/").rpartition("/")
        try:
            return any(entry.name == name for entry in self.list(parent or "/workspace"))
        except NotFoundError:
            return False

    def remove(self, path: str) -> None:
        """Removes a file, or a directory with everything in it."""
        self._sandbox._transport.request("DELETE", self._base + "/files", params={"path": path})

    def move(self, source: str, destination: str) -> str:
        return self._sandbox._transport.json("POST", self._base + "/files/move", json={"from": source, "to": destination})["path"]

    def search(self, query: str, *, path: str | None = None, glob: str | None = None) -> list[dict[str, Any]]:
        """Lines matching ``query``: ``[{"path", "line", "text"}]``."""
        return self._sandbox._transport.json("GET", self._base + "/files/search",
                                             params={"query": query, "path": path, "glob": glob})["matches"]

    def upload_archive(self, archive: Union[str, os.PathLike[str], bytes, IO[bytes]], path: str = "/workspace") -> ArchiveResult:
        """Extracts a ``.tar``, ``.tar.gz`` or ``.zip`` (bytes, a binary file object, or the path
        of a local file) under ``path``. Entries the host refuses are listed in ``skipped``."""
        transport = self._sandbox._transport
        timeout = max(transport.config.timeout, 300.0)
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(archive, (str, os.PathLike)):
            with open(archive, "rb") as file:
                body = transport.json("POST", self._base + "/files/archive", params={"path": path}, content=file,
                                      headers=headers, timeout=timeout)
        else:
            body = transport.json("POST", self._base + "/files/archive", params={"path": path}, content=archive,
                                  headers=headers, timeout=timeout)
        return ArchiveResult(extracted=int(body.get("extracted", 0)), skipped=list(body.get("skipped", [])))

    def download(self, path: str | None = None, *, format: Literal["zip", "tar.gz", "tar"] = "zip", all: bool = False,
                 to: Union[str, os.PathLike[str], IO[bytes], None] = None) -> Any:
        """The tree under ``path`` (default ``/workspace``) as an archive, streamed: written to
        ``to`` (a local path or a binary file object) and that answered, else answered as bytes.
        Heavy directories (``node_modules``, ``.git``, ...) are left out unless ``all=True``."""
        transport = self._sandbox._transport
        params = {"format": format, "path": path, "all": True if all else None}
        with transport.stream("GET", self._base + "/download-archive", params=params,
                              timeout=max(transport.config.timeout, 300.0)) as response:
            if to is None:
                return response.read()
            if isinstance(to, (str, os.PathLike)):
                with open(to, "wb") as file:
                    for block in response.iter_bytes():
                        file.write(block)
                return to
            for block in response.iter_bytes():
                to.write(block)
            return to


class DevServers:
    """``sandbox.dev_server``: a dev server in a session, and preview URLs."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def start(self, command: str | None = None, *, port: int | None = None, session_name: str | None = None) -> "DevServer":
        """Starts a dev server (without ``command``, one chosen from the project: ``package.json``'s
        ``dev``/``start``, ...). A dev server already running in the session is restarted."""
        body: dict[str, Any] = {}
        for key, value in (("command", command), ("port", port), ("session_name", session_name)):
            if value is not None:
                body[key] = value
        started = self._sandbox._transport.json("POST", f"/api/sandboxes/{self._sandbox.sandbox_id}/dev-server/start",
                                                json=body, timeout=max(self._sandbox._transport.config.timeout, 120.0))
        return DevServer(self._sandbox, started)

    def preview_url(self, port: int) -> str | None:
        """The preview URL of ``port`` when something listens on it in the sandbox, else None."""
        body = self._sandbox._transport.json("GET", f"/api/sandboxes/{self._sandbox.sandbox_id}/preview-url",
                                             params={"port": port})
        return body.get("preview_url")


class DevServer:
    """A dev server started in a session: ``events()`` follows its status, log lines and preview
    URL; ``preview_url`` waits (up to a minute) until it listens."""

    def __init__(self, sandbox: Sandbox, started: Mapping[str, Any]) -> None:
        self._sandbox = sandbox
        self.session_name: str = started["session_name"]
        self.command: str = started.get("command", "")
        self.command_id: str = started.get("command_id", "")
        self.port: int | None = started.get("port")
        self._url: str | None = None

    def __repr__(self) -> str:
        return f"DevServer(session_name={self.session_name!r}, command={self.command!r}, port={self.port!r})"

    def events(self, timeout: float | None = None) -> Iterator[ServerSentEvent]:
        """``status``, ``log`` and ``preview_url`` events until the final ``done``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        path = f"/api/sandboxes/{self._sandbox.sandbox_id}/dev-server/stream"
        for event in self._sandbox._transport.follow(path, params={"session_name": self.session_name},
                                                     done=lambda e: e.type == "done", deadline=deadline):
            if event.type == "preview_url":
                self._url = event.data.get("url")
                self.port = event.data.get("port", self.port)
            yield event

    def wait_until_ready(self, timeout: float = 60.0) -> str:
        """The preview URL once the server listens. Raises ``TimeoutError`` past ``timeout``,
        ``SandboxUnavailableError`` if the server ends first."""
        from .errors import SandboxUnavailableError
        if self._url is not None:
            return self._url
        last_status = None
        for event in self.events(timeout=timeout):
            if event.type == "preview_url":
                return str(event.data["url"])
            if event.type == "status":
                last_status = event.data.get("status")
        raise SandboxUnavailableError(f"the dev server ended (status {last_status!r}) before it listened")

    @property
    def preview_url(self) -> str:
        return self.wait_until_ready()

    def stop(self) -> None:
        """Kills the dev server and everything it started."""
        self._sandbox.commands.kill_session(self.session_name)

