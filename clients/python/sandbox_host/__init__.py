"""Python SDK for sandbox-host: sandboxes, commands, files, dev servers and agent runs.

    from sandbox_host import Sandbox

    with Sandbox.create(project="demo") as sandbox:
        print(sandbox.commands.run("echo hello").stdout)

Configured by arguments or by ``SANDBOX_HOST_URL`` (default ``http://127.0.0.1:8000``) and
``SANDBOX_HOST_API_KEY``. ``AsyncSandbox``/``AsyncAgentRun`` are the asyncio twins.
"""

from ._config import ConnectionConfig
from ._sse import ServerSentEvent
from ._transport import __version__
from .agent import AgentRun, Thread
from .async_agent import AsyncAgentRun, AsyncThread
from .async_sandbox import AsyncCommandHandle, AsyncDevServer, AsyncSandbox
from .errors import (ConflictError, ConnectionLostError, ForbiddenError, InsufficientStorageError, InternalError,
                     NotFoundError, PayloadTooLargeError, RateLimitedError, SandboxHostError, SandboxUnavailableError,
                     UnauthorizedError, ValidationError)
from .models import AgentEvent, ArchiveResult, CommandResult, EntryInfo, OutputChunk, WriteInfo
from .sandbox import CommandHandle, DevServer, Sandbox

__all__ = [
    "AgentEvent", "AgentRun", "ArchiveResult", "AsyncAgentRun", "AsyncCommandHandle", "AsyncDevServer", "AsyncSandbox",
    "AsyncThread", "CommandHandle", "CommandResult", "ConflictError", "ConnectionConfig", "ConnectionLostError",
    "DevServer", "EntryInfo", "ForbiddenError", "InsufficientStorageError", "InternalError", "NotFoundError",
    "OutputChunk", "PayloadTooLargeError", "RateLimitedError", "Sandbox", "SandboxHostError",
    "SandboxUnavailableError", "ServerSentEvent", "Thread", "UnauthorizedError", "ValidationError", "WriteInfo",
    "__version__",
]
