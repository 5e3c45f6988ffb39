"""Every error answer comes back as the exception of its code, with status and detail."""

from __future__ import annotations

import socket

import pytest

from sandbox_host import (AgentRun, ConflictError, ConnectionLostError, ForbiddenError, InsufficientStorageError,
                          InternalError, NotFoundError, PayloadTooLargeError, RateLimitedError, Sandbox,
                          SandboxHostError, SandboxUnavailableError, UnauthorizedError, ValidationError)
from sandbox_host._transport import SyncTransport
from sandbox_host._config import ConnectionConfig
from sandbox_host.errors import error_from_response
from conftest import UPLOAD_LIMIT


def test_wrong_key_is_unauthorized(live_host):
    with pytest.raises(UnauthorizedError) as caught:
        Sandbox.create(project="nope", api_key="sbx_not_a_real_key")
    assert caught.value.status == 401 and caught.value.code == "UNAUTHORIZED" and caught.value.detail


def test_missing_key_is_refused_before_any_request(live_host, monkeypatch):
    monkeypatch.delenv("SANDBOX_HOST_API_KEY")
    with pytest.raises(UnauthorizedError, match="SANDBOX_HOST_API_KEY"):
        Sandbox.create(project="nope")


def test_missing_file_and_unknown_sandbox_are_not_found(sandbox):
    with pytest.raises(NotFoundError) as caught:
        sandbox.files.read("no/such/file")
    assert caught.value.status == 404 and "not found" in caught.value.detail
    with pytest.raises(NotFoundError):
        Sandbox.connect("no-such-sandbox-or-project")


def test_another_users_sandbox_is_not_found(live_host, sandbox):
    other = SyncTransport(ConnectionConfig.resolve(api_key=live_host.new_user_key("mallory")))
    intruder = Sandbox(sandbox_id=sandbox.sandbox_id, project_id=sandbox.project_id, transport=other)
    try:
        with pytest.raises(NotFoundError):
            intruder.files.read("anything")
        with pytest.raises(NotFoundError):
            intruder.commands.run("echo owned")
        with pytest.raises(NotFoundError):
            Sandbox.connect(sandbox.sandbox_id, api_key=other.config.api_key)
    finally:
        intruder.close()


def test_bad_input_is_a_validation_error(sandbox):
    with pytest.raises(ValidationError) as caught:
        sandbox.files.read("../../etc/passwd")
    assert caught.value.status == 400
    with pytest.raises(ValidationError) as caught:
        sandbox.commands.run("   ")
    assert caught.value.status == 422 and "command" in caught.value.detail


def test_upload_over_the_limit_is_payload_too_large(sandbox):
    with pytest.raises(PayloadTooLargeError) as caught:
        sandbox.files.write("big.bin", b"\0" * (UPLOAD_LIMIT + 1))
    assert caught.value.status == 413
    assert not sandbox.files.exists("big.bin")


def test_second_run_on_a_busy_thread_is_a_conflict(sandbox):
    thread = sandbox.create_thread()
    run = AgentRun.start(thread, "first")
    with pytest.raises(ConflictError) as caught:
        AgentRun.start(thread, "second")
    assert caught.value.status == 409
    assert run.wait() == "completed"


def test_unreachable_host_is_connection_lost(live_host):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionLostError):
        Sandbox.create(project="x", base_url=f"http://127.0.0.1:{port}")


@pytest.mark.parametrize(("status", "code", "expected"), [
    (401, "UNAUTHORIZED", UnauthorizedError), (403, "FORBIDDEN", ForbiddenError), (404, "NOT_FOUND", NotFoundError),
    (400, "VALIDATION_ERROR", ValidationError), (422, "VALIDATION_ERROR", ValidationError),
    (409, "CONFLICT", ConflictError), (413, "PAYLOAD_TOO_LARGE", PayloadTooLargeError),
    (429, "RATE_LIMITED", RateLimitedError), (503, "SANDBOX_UNAVAILABLE", SandboxUnavailableError),
    (504, "SANDBOX_UNAVAILABLE", SandboxUnavailableError), (507, "INSUFFICIENT_STORAGE", InsufficientStorageError),
    (500, "INTERNAL_ERROR", InternalError),
])
def test_every_code_maps_to_its_exception(status, code, expected):
    error = error_from_response(status, b'{"detail":"what went wrong","code":"%s"}' % code.encode(), {"Retry-After": "3"})
    assert type(error) is expected and isinstance(error, SandboxHostError)
    assert (error.status, error.code, error.detail) == (status, code, "what went wrong")
    if expected is RateLimitedError:
        assert error.retry_after == 3.0


def test_a_body_without_a_code_falls_back_to_the_status():
    error = error_from_response(502, b"<html>bad gateway</html>")
    assert type(error) is SandboxHostError and error.status == 502 and "bad gateway" in error.detail
    assert type(error_from_response(404, b"")) is NotFoundError
