"""Typed exceptions, one per error ``code`` of the host's contract.

Every error answer of the host is ``{"detail": "...", "code": "UPPER_SNAKE"}`` with a 4xx/5xx
status; :func:`error_from_response` turns it into the matching subclass of
:class:`SandboxHostError`, which carries ``status``, ``code`` and ``detail``.
"""

from __future__ import annotations

import json
from typing import Any


class SandboxHostError(Exception):
    """Any error the host answered (or the SDK met talking to it).

    ``status`` is the HTTP status (``None`` when no answer came), ``code`` the contract's
    ``UPPER_SNAKE`` code and ``detail`` the host's human-readable message.
    """

    code: str = "ERROR"

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        where = f"{self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, detail={self.detail!r})"


class UnauthorizedError(SandboxHostError):
    """401: no API key, or one that is wrong or revoked."""
    code = "UNAUTHORIZED"


class ForbiddenError(SandboxHostError):
    """403: the key is valid but may not do this (e.g. an admin-only route)."""
    code = "FORBIDDEN"


class NotFoundError(SandboxHostError):
    """404: no such resource, or one that belongs to another user (the host does not tell apart)."""
    code = "NOT_FOUND"


class ValidationError(SandboxHostError):
    """400 or 422: the request is malformed (a path leaving /workspace, a bad field, ...)."""
    code = "VALIDATION_ERROR"


class ConflictError(SandboxHostError):
    """409: the resource is busy (e.g. an agent run is already active on the thread)."""
    code = "CONFLICT"


class PayloadTooLargeError(SandboxHostError):
    """413: an upload or a write over a limit, or past the sandbox's disk budget."""
    code = "PAYLOAD_TOO_LARGE"


class RateLimitedError(SandboxHostError):
    """429: too many requests; ``retry_after`` is the host's ``Retry-After`` in seconds, if sent."""
    code = "RATE_LIMITED"

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class SandboxUnavailableError(SandboxHostError):
    """503/504: the sandbox could not be started or reached."""
    code = "SANDBOX_UNAVAILABLE"


class InsufficientStorageError(SandboxHostError):
    """507: the host's own disk is under its reserve."""
    code = "INSUFFICIENT_STORAGE"


class InternalError(SandboxHostError):
    """500: the host failed; its log says why (the answer never does)."""
    code = "INTERNAL_ERROR"


class ConnectionLostError(SandboxHostError):
    """The host could not be reached, or a stream could not be resumed after its retries."""
    code = "CONNECTION_LOST"


_BY_CODE: dict[str, type[SandboxHostError]] = {
    cls.code: cls
    for cls in (UnauthorizedError, ForbiddenError, NotFoundError, ValidationError, ConflictError,
                PayloadTooLargeError, RateLimitedError, SandboxUnavailableError,
                InsufficientStorageError, InternalError)
}

# When a body carries no known code (a proxy's page, a plain 500), the status decides.
_BY_STATUS: dict[int, type[SandboxHostError]] = {
    400: ValidationError, 401: UnauthorizedError, 403: ForbiddenError, 404: NotFoundError,
    409: ConflictError, 413: PayloadTooLargeError, 422: ValidationError, 429: RateLimitedError,
    500: InternalError, 503: SandboxUnavailableError, 504: SandboxUnavailableError,
    507: InsufficientStorageError,
}


def error_from_response(status: int, body: bytes, headers: Any = None) -> SandboxHostError:
    """The typed exception for an error answer: by its ``code``, else by its status."""
    detail, code = "", None
    try:
        parsed = json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        detail = str(parsed.get("detail") or "")
        raw = parsed.get("code")
        code = raw if isinstance(raw, str) else None
    if not detail:
        detail = body[:500].decode("utf-8", "replace").strip() or f"HTTP {status}"
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status) or SandboxHostError
    plain = {str(k).lower(): str(v) for k, v in (headers.items() if headers is not None else [])}
    return cls(detail, status=status, code=code or cls.code, headers=plain)
