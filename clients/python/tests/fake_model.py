"""A model provider on loopback speaking OpenAI's Chat Completions wire format, streamed
(``data:`` chunks, tool-call arguments split over several chunks, usage, ``[DONE]``), as
Tests/SandboxHostTests/Support/FakeModelServer.swift does for the Swift suites.

It answers from the conversation alone, so concurrent runs each get the same script:
- no tool result yet: "Let me check." and a ``shell`` call of ``echo from-the-agent``;
- after a tool result: ``FINAL_TEXT`` in ``FINAL_PIECES`` pieces, ``PIECE_DELAY`` apart, so a run
  stays live long enough for a test to cut its event stream in the middle.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOL_COMMAND = "echo from-the-agent"
FINAL_PIECES = 40
PIECE_DELAY = 0.03
FINAL_TEXT = "".join(f"[{i:02d}]" for i in range(FINAL_PIECES))


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(body)  # type: ignore[attr-defined]
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_error(404)
            return
        messages = body.get("messages", [])
        answered = any(m.get("role") == "tool" for m in messages)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if answered:
                self._stream_text(_pieces(FINAL_TEXT, len(FINAL_TEXT) // FINAL_PIECES), PIECE_DELAY)
            else:
                self._stream_tool_call("Let me check.", "shell", json.dumps({"command": TOOL_COMMAND}))
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, value: object) -> None:
        self._chunk(b"data: " + json.dumps(value).encode() + b"\n\n")

    def _delta(self, delta: dict, finish: str | None = None) -> None:
        self._event({"id": "c1", "object": "chat.completion.chunk", "model": "fake-model",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    def _finish(self, reason: str) -> None:
        self._delta({}, reason)
        self._event({"id": "c1", "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})
        self._chunk(b"data: [DONE]\n\n")

    def _stream_text(self, pieces: list[str], delay: float) -> None:
        self._delta({"role": "assistant", "content": ""})
        for piece in pieces:
            self._delta({"content": piece})
            time.sleep(delay)
        self._finish("stop")

    def _stream_tool_call(self, text: str, name: str, arguments: str) -> None:
        self._delta({"role": "assistant", "content": ""})
        for piece in _pieces(text, 5):
            self._delta({"content": piece})
        self._delta({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                     "function": {"name": name, "arguments": ""}}]})
        for piece in _pieces(arguments, 5):
            self._delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        self._finish("tool_calls")


class FakeModelServer:
    """Started on a free loopback port; ``base_url`` ends in ``/v1``; ``requests`` is every
    request's JSON."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.requests = []  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-model", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[dict]:
        return self._server.requests  # type: ignore[attr-defined]

    def environment(self) -> dict[str, str]:
        """What points a host at this server."""
        return {"SANDBOX_HOST_LLM_PROVIDER": "openai", "SANDBOX_HOST_LLM_BASE_URL": self.base_url,
                "SANDBOX_HOST_LLM_API_KEY": "sk-fake-test", "SANDBOX_HOST_LLM_MODELS": "fake-model",
                "SANDBOX_HOST_LLM_RETRY_MS": "20", "SANDBOX_HOST_LLM_MAX_ATTEMPTS": "3"}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
