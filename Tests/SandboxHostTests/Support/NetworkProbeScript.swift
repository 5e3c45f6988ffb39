import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import SandboxRuntime

/// What a command inside a sandbox finds on the network: /workspace/.probe.py runs a list of
/// probes at once (each bounded; the whole within 8 s) and prints one result per probe,
/// `{"ok":true|false,"value":…}`.
enum NetworkProbe {
    static let path = ".probe.py"
    static let script = #"""
        import json, re, socket, struct, subprocess, sys, threading, time, urllib.request

        def facts():
            address = re.search(r"inet (\S+)/", subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                                capture_output=True, text=True).stdout or "")
            gateway = None
            for line in open("/proc/net/route").read().splitlines()[1:]:
                fields = line.split()
                if fields[1] == "00000000":
                    gateway = socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
            servers = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")]
            return {"address": address.group(1) if address else None, "gateway": gateway,
                    "nameserver": servers[0] if servers else None}

        def run(probe):
            op = probe["op"]
            if op == "resolve":
                return sorted({entry[4][0] for entry in socket.getaddrinfo(probe["name"], 80, socket.AF_INET, socket.SOCK_STREAM)})
            if op == "get":
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with opener.open(probe["url"], timeout=3) as response:
                    return response.read().decode()
            if op == "connect":
                connection = socket.create_connection((probe["host"], probe["port"]), timeout=2)
                connection.settimeout(1)
                try:
                    return ("connected " + connection.recv(100).decode(errors="replace")).strip()
                except OSError:
                    return "connected"
            if op == "facts":
                return facts()
            raise ValueError(op)

        probes = json.loads(sys.argv[1])
        results = [{"ok": False, "value": "timeout"} for _ in probes]

        def work(index, probe):
            try:
                results[index] = {"ok": True, "value": run(probe)}
            except Exception as error:
                results[index] = {"ok": False, "value": f"{type(error).__name__}: {error}"}

        threads = [threading.Thread(target=work, args=item, daemon=True) for item in enumerate(probes)]
        [thread.start() for thread in threads]
        deadline = time.monotonic() + 8
        for thread in threads:
            thread.join(max(0, deadline - time.monotonic()))
        print(json.dumps(results), flush=True)
        import os
        os._exit(0)
        """#

    struct Result: CustomStringConvertible {
        let ok: Bool
        let value: Any
        var text: String { value as? String ?? "" }
        var description: String { "\(ok ? "ok" : "failed"): \(value)" }
        /// A name that did not resolve because the resolver said NXDOMAIN (not a timeout or refusal).
        var isNXDOMAIN: Bool { !ok && text.contains("Errno -2") }
    }

    static func resolve(_ name: String) -> [String: Any] { ["op": "resolve", "name": name] }
    static func get(_ url: String) -> [String: Any] { ["op": "get", "url": url] }
    static func connect(_ host: String, _ port: Int) -> [String: Any] { ["op": "connect", "host": host, "port": port] }
    static var facts: [String: Any] { ["op": "facts"] }
}
