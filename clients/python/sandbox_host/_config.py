"""Where the host is and which key to use: arguments, else the environment, else defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import UnauthorizedError

DEFAULT_URL = "http://127.0.0.1:8000"
# Seconds a plain request may take; commands get their own timeout plus a margin.
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class ConnectionConfig:
    """The host's base URL (without ``/api``), the API key and the default request timeout.

    ``base_url`` comes from the argument, else ``SANDBOX_HOST_URL``, else
    ``http://127.0.0.1:8000``; ``api_key`` from the argument, else ``SANDBOX_HOST_API_KEY``.
    """

    base_url: str
    api_key: str
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def resolve(cls, base_url: str | None = None, api_key: str | None = None,
                timeout: float | None = None) -> "ConnectionConfig":
        url = (base_url or os.environ.get("SANDBOX_HOST_URL") or DEFAULT_URL).strip().rstrip("/")
        # Accept the contract's base (`http://HOST:PORT/api`) as well as the bare host.
        if url.endswith("/api"):
            url = url[: -len("/api")]
        key = api_key or os.environ.get("SANDBOX_HOST_API_KEY")
        if not key:
            raise UnauthorizedError(
                "no API key: pass api_key=... or set SANDBOX_HOST_API_KEY (the host printed the admin "
                "key at its first start, and keeps it in DATA_DIR/admin.key)")
        return cls(base_url=url, api_key=key.strip(), timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
