#!/usr/bin/env python3
"""A fake internet for the network tests and benchmarks (root; iproute2).

    python3 benchmarks/fake_internet.py [--name NAME]

builds a network namespace of its own holding documentation-range addresses, connected to the
host's namespace by a veth pair whose host end owns 198.51.100.1/24 and 203.0.113.1/24 (so the
host reaches both /24s directly, no extra route), and serves in it:
  - HTTP on port 80 of every address: `/` answers `hello from ADDRESS`, `/bytes/N` N bytes (the
    throughput benchmark), `/slow` 1 KiB every 100 ms for 120 s (a connection to cut);
  - DNS (UDP and TCP) at 198.51.100.53:53 answering the fixed NAMES below (TTL 60), NXDOMAIN
    for any other name;
  - canaries that nothing in a sandbox may reach: a link-local address and a private one, both
    inside the namespace and routed to it from the host (they print `canary`), plus TCP
    listeners in the host's own namespace on 127.0.0.1 and on 0.0.0.0 (every host address:
    the host ends of sandbox links, the resolver's, this link's 198.51.100.1).
When everything answers it prints one line `ready {json}` (addresses, names, canary ports) and
then serves until its stdin closes or it gets SIGTERM/SIGINT, and removes the namespace and the
veth (the host's routes to it go with the link) before it exits. A run of a crashed process is
swept at the next start (namespaces `fakenet-PID` whose PID is gone).

The documentation ranges are fixed (the names answer them), so one fake internet runs on a
machine at a time: a second one refuses to start while the first's routes exist.
"""
import argparse, ctypes, json, os, re, select, signal, socket, socketserver, struct, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DNS_ADDRESS = "198.51.100.53"
HOST_ADDRESSES = ["198.51.100.1/24", "203.0.113.1/24"]
NAMES = {
    "allowed.example.test": "198.51.100.10",
    "a.wild.example.test": "198.51.100.11",
    "b.c.wild.example.test": "203.0.113.10",
    "wild.example.test": "203.0.113.11",
    "denied.example.test": "203.0.113.12",
    "other.example.test": "198.51.100.12",
}
# Canaries inside the namespace, routed from the host. Not 169.254.169.254 itself: a route to it
# would take a cloud machine's metadata service away while the tests run (the tests try that
# address too, without a canary: nothing must answer it from a sandbox).
LINK_LOCAL_CANARY = "169.254.42.42"
PRIVATE_CANARY = "192.168.251.10"
SERVED = sorted(set(NAMES.values()) | {DNS_ADDRESS})
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def ip(*arguments, check=True):
    result = subprocess.run(["ip", *arguments], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"ip {' '.join(arguments)}: {result.stderr.strip()}")
    return result.stdout


def sweep():
    """Namespaces and links of fake internets whose process is gone."""
    for line in ip("netns", "list").splitlines():
        match = re.match(r"fakenet-(\d+)\b", line)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            ip("netns", "del", f"fakenet-{match.group(1)}", check=False)
            ip("link", "del", f"fkh{match.group(1)}", check=False)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


class HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    chunk = bytes(1 << 20)

    def log_message(self, *arguments):
        pass

    def do_GET(self):
        address = self.connection.getsockname()[0]
        if self.path.startswith("/bytes/"):
            remaining = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Length", str(remaining))
            self.end_headers()
            while remaining > 0:
                piece = min(remaining, len(self.chunk))
                self.wfile.write(memoryview(self.chunk)[:piece])
                remaining -= piece
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(1200 * 1024))
            self.end_headers()
            for _ in range(1200):
                self.wfile.write(b"s" * 1024)
                self.wfile.flush()
                time.sleep(0.1)
        else:
            body = (("canary" if address in (LINK_LOCAL_CANARY, PRIVATE_CANARY) else f"hello from {address}") + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def dns_answer(query):
    """The answer to one DNS query message (bytes), or None to ignore it."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    position, labels = 12, []
    while position < len(query) and query[position] != 0:
        length = query[position]
        labels.append(query[position + 1:position + 1 + length].decode("ascii", "replace").lower())
        position += 1 + length
    end = position + 5
    if end > len(query):
        return None
    qtype = struct.unpack("!H", query[position + 1:position + 3])[0]
    question = query[12:end]
    name = ".".join(labels)
    address = NAMES.get(name)
    rd = flags & 0x0100
    if address is None:
        return struct.pack("!HHHHHH", ident, 0x8180 | rd | 3, 1, 0, 0, 0) + question
    if qtype != 1:  # a known name, no record of that type (IPv4 only): NOERROR, no answer
        return struct.pack("!HHHHHH", ident, 0x8180 | rd, 1, 0, 0, 0) + question
    answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(address)
    return struct.pack("!HHHHHH", ident, 0x8580 | rd, 1, 1, 0, 0) + question + answer


def serve_dns_udp(sock):
    while True:
        query, peer = sock.recvfrom(4096)
        answer = dns_answer(query)
        if answer:
            sock.sendto(answer, peer)


class DNSTCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        while True:
            header = self.request.recv(2, socket.MSG_WAITALL)
            if len(header) < 2:
                return
            query = self.request.recv(struct.unpack("!H", header)[0], socket.MSG_WAITALL)
            answer = dns_answer(query)
            if not answer:
                return
            self.request.sendall(struct.pack("!H", len(answer)) + answer)


class DNSTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class CanaryHandler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.sendall(b"canary\n")
        except OSError:
            pass


class CanaryServer(socketserver.ThreadingTCPServer):
    daemon_threads = True


def route_exists(prefix):
    return ip("route", "show", "exact", prefix).strip() != ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default=f"fakenet-{os.getpid()}")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("fake_internet.py needs root")
    sweep()
    for prefix in ["198.51.100.0/24", "203.0.113.0/24", LINK_LOCAL_CANARY, PRIVATE_CANARY]:
        if route_exists(prefix):
            raise SystemExit(f"a route to {prefix} exists already (another fake internet running?)")
    name, host_link, inner_link = args.name, f"fkh{os.getpid()}", f"fkn{os.getpid()}"
    host_namespace = os.open("/proc/self/ns/net", os.O_RDONLY)

    def teardown(*_):
        ip("netns", "del", name, check=False)
        ip("link", "del", host_link, check=False)
        os._exit(0)

    signal.signal(signal.SIGTERM, teardown)
    signal.signal(signal.SIGINT, teardown)
    try:
        ip("netns", "add", name)
        ip("link", "add", host_link, "type", "veth", "peer", "name", inner_link, "netns", name)
        for address in HOST_ADDRESSES:
            ip("addr", "add", address, "dev", host_link)
        ip("link", "set", host_link, "up")
        inside = ["ip", "-n", name]
        subprocess.run(inside + ["link", "set", "lo", "up"], check=True)
        for address in SERVED:
            prefix = "24"
            subprocess.run(inside + ["addr", "add", f"{address}/{prefix}", "dev", inner_link], check=True)
        for address in [LINK_LOCAL_CANARY, PRIVATE_CANARY]:
            subprocess.run(inside + ["addr", "add", f"{address}/32", "dev", inner_link], check=True)
        subprocess.run(inside + ["link", "set", inner_link, "up"], check=True)
        subprocess.run(inside + ["route", "add", "default", "via", "198.51.100.1"], check=True)
        for address in [LINK_LOCAL_CANARY, PRIVATE_CANARY]:
            ip("route", "add", f"{address}/32", "via", "198.51.100.10", "dev", host_link)

        # The host's own canaries first, then every socket of the fake internet inside it: a
        # socket stays in the namespace it was made in, whichever thread serves it.
        loopback = CanaryServer(("127.0.0.1", 0), CanaryHandler)
        everywhere = CanaryServer(("0.0.0.0", 0), CanaryHandler)
        setns(f"/var/run/netns/{name}")
        http = HTTPServer(("0.0.0.0", 80), HTTPHandler)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((DNS_ADDRESS, 53))
        tcp = DNSTCPServer((DNS_ADDRESS, 53), DNSTCPHandler)
        if libc.setns(host_namespace, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        for target in [loopback.serve_forever, everywhere.serve_forever, http.serve_forever, tcp.serve_forever]:
            threading.Thread(target=target, daemon=True).start()
        threading.Thread(target=serve_dns_udp, args=(udp,), daemon=True).start()
        ready = {
            "namespace": name, "host_link": host_link, "dns": DNS_ADDRESS, "names": NAMES, "served": SERVED,
            "host_addresses": [a.split("/")[0] for a in HOST_ADDRESSES],
            "link_local_canary": LINK_LOCAL_CANARY, "private_canary": PRIVATE_CANARY,
            "loopback_canary_port": loopback.server_address[1], "host_canary_port": everywhere.server_address[1],
        }
        print("ready " + json.dumps(ready), flush=True)
        # Serve until whoever started us goes away (stdin closes) or signals.
        while True:
            readable, _, _ = select.select([sys.stdin], [], [], 1.0)
            if readable and not os.read(sys.stdin.fileno(), 4096):
                break
    except BaseException as error:  # noqa: BLE001 - always tear down, then report
        if not isinstance(error, SystemExit):
            print(f"fake internet failed: {error!r}", file=sys.stderr, flush=True)
        else:
            print(error, file=sys.stderr, flush=True)
    teardown()


if __name__ == "__main__":
    main()
