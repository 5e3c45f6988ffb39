#!/usr/bin/env python3
"""Terminal benchmark: keystroke echo round trip, output throughput, host memory per terminal.

Usage: python3 benchmarks/terminal.py [--binary .build/release/sandbox-host] [--keys 300] [--megabytes 100] [--idle 50]
Needs root, like the host. The WebSocket client is written here on the standard library (the
handshake and frames by hand), so nothing is installed. Prints:
  - keystroke echo: one byte typed into `cat` (the terminal's line discipline echoes it), time
    until the echo is back, p50/p99 in ms over --keys keystrokes;
  - throughput: `cat` of a --megabytes file made in the sandbox, MB/s from the command's send to
    its end marker, with the host's RSS before and after;
  - idle terminals: the host's RSS before and after opening --idle login shells, per terminal.
"""
import argparse, base64, json, os, socket, statistics, struct, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import Host, percentile  # noqa: E402


class TerminalSocket:
    """A WebSocket client of `/api/sandboxes/{sandbox}/pty/{pty}/ws`."""

    def __init__(self, port, key, sandbox, pty):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        nonce = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /api/sandboxes/{sandbox}/pty/{pty}/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Key: {nonce}\r\nAuthorization: Bearer {key}\r\n\r\n")
        self.sock.sendall(request.encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("connection closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.offset = 0
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"not upgraded: {head[:200]!r}")
        self.output = bytearray()
        self.exit = None

    def send(self, data):
        mask = os.urandom(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        length = len(data)
        if length < 126:
            header = struct.pack("!BB", 0x82, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x82, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x82, 0x80 | 127, length)
        self.sock.sendall(header + mask + payload)

    def _read(self, count):
        # An offset into one buffer: slicing the rest off at every frame would copy it all.
        while len(self.buffer) - self.offset < count:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            self.buffer = self.buffer[self.offset:] + chunk
            self.offset = 0
        data = self.buffer[self.offset:self.offset + count]
        self.offset += count
        return data

    def frame(self):
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        payload = self._read(length)
        opcode = first & 0x0F
        if opcode == 0x2 or opcode == 0x0:
            self.output += payload
        elif opcode == 0x1:
            message = json.loads(payload)
            if message.get("type") == "exit":
                self.exit = message.get("exit_code")
        return opcode

    def wait_for(self, marker, keep=1 << 16):
        """Reads until `marker` is in the output; keeps only the last `keep` bytes."""
        while marker not in self.output[-(len(marker) + (1 << 16)):]:
            self.frame()
            if len(self.output) > 2 * keep:
                del self.output[:-keep]
        index = self.output.index(marker)
        del self.output[:index + len(marker)]

    def close(self):
        self.sock.close()


def open_terminal(host, connection, sandbox, body):
    return host.call(connection, "POST", f"/api/sandboxes/{sandbox}/pty", body)["pty_id"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/release/sandbox-host")
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--idle", type=int, default=50)
    args = parser.parse_args()
    os.environ["SANDBOX_HOST_MAX_TERMINALS"] = str(max(args.idle + 4, 8))
    host = Host(os.path.abspath(args.binary), tempfile.mkdtemp(prefix="terminal-bench-"))
    try:
        connection = host.connection()
        project = host.call(connection, "POST", "/api/projects", {"name": "terminal-bench"})["project_id"]
        sandbox = host.call(connection, "POST", f"/api/project/{project}/sandbox/ensure-active")["sandbox_id"]

        # Keystroke echo: `cat` in canonical mode; the line discipline echoes each byte at once.
        pty = open_terminal(host, connection, sandbox, {"command": "cat"})
        terminal = TerminalSocket(host.port, host.key, sandbox, pty)
        times = []
        for index in range(args.keys):
            key = b"abcdefghijklmnopqrstuvwxyz"[index % 26:index % 26 + 1]
            started = time.perf_counter()
            terminal.send(key)
            terminal.wait_for(key)
            times.append((time.perf_counter() - started) * 1000)
            if index % 50 == 49:
                terminal.send(b"\r")
                terminal.wait_for(b"\n")  # the echo of the newline
                terminal.wait_for(b"\n")  # the line cat writes back
        terminal.close()
        host.call(connection, "DELETE", f"/api/sandboxes/{sandbox}/pty/{pty}")
        print(f"keystroke echo round trip: p50 {percentile(times, 50):.3f} ms, p99 {percentile(times, 99):.3f} ms ({args.keys} keys)")

        # Throughput: a file of printable lines, cat'ed to the terminal.
        size = args.megabytes * 1_000_000
        host.call(connection, "POST", f"/api/sandboxes/{sandbox}/execute",
                  {"command": f"yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c {size} > /tmp/big", "timeout": 300})
        pty = open_terminal(host, connection, sandbox, {"command": "/bin/sh"})
        terminal = TerminalSocket(host.port, host.key, sandbox, pty)
        terminal.send(b"echo READY$((1+1))\r")
        terminal.wait_for(b"READY2")
        rss_before = host.rss_kib()
        started = time.perf_counter()
        terminal.send(b"cat /tmp/big; echo END$((2+3))\r")
        terminal.wait_for(b"END5")
        elapsed = time.perf_counter() - started
        rss_after = host.rss_kib()
        terminal.close()
        host.call(connection, "DELETE", f"/api/sandboxes/{sandbox}/pty/{pty}")
        print(f"cat of {args.megabytes} MB: {args.megabytes / elapsed:.1f} MB/s ({elapsed:.2f} s); "
              f"host RSS {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after")

        # Idle terminals: login shells with nobody attached.
        time.sleep(1)
        rss_before = host.rss_kib()
        for _ in range(args.idle):
            open_terminal(host, connection, sandbox, {})
        time.sleep(2)
        rss_after = host.rss_kib()
        print(f"{args.idle} idle terminals: host RSS {rss_before / 1024:.1f} → {rss_after / 1024:.1f} MiB, "
              f"{(rss_after - rss_before) / args.idle:.0f} KiB per terminal")
    finally:
        host.stop()


if __name__ == "__main__":
    main()
