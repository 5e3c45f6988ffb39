"""A TCP relay on loopback in front of the host, whose open event-stream connections a test can
cut at will (both sockets shut down mid-response, as a dropped network or a proxy restart
would). It keeps the head of every request it relays, so a test can see the reconnection and
its ``Last-Event-ID``."""

from __future__ import annotations

import socket
import threading


class _Link:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.last_request = b""
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class CutProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self.request_heads: list[str] = []
        self.cuts = 0
        threading.Thread(target=self._accept, name="cut-proxy", daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._pump, args=(link, client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, upstream, client, False), daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if requests and data[:8].split(b" ")[0] in (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD"):
                    head = data.split(b"\r\n\r\n", 1)[0]
                    link.last_request = head
                    with self._lock:
                        self.request_heads.append(head.decode("latin-1"))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            link.close()

    def cut(self, path_part: str) -> int:
        """Cuts every open connection whose latest request is a GET of a path containing
        ``path_part``; answers how many."""
        with self._lock:
            doomed = [link for link in self._links
                      if not link.closed and link.last_request.startswith(b"GET ") and path_part.encode() in link.last_request.split(b"\r\n", 1)[0]]
            self._links = [link for link in self._links if not link.closed and link not in doomed]
        for link in doomed:
            link.close()
        self.cuts += len(doomed)
        return len(doomed)

    def stop(self) -> None:
        self._listener.close()
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close()
