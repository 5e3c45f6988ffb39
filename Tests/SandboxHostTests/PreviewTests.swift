import AgentLoop
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

extension HeavySuites {
    /// Dev servers and previews with the real binary: a server inside a sandbox, reached through
    /// both preview forms with curl (and Chromium), with its token, cookies and headers checked.
    @Suite("Previews", .serialized)
    struct PreviewTests {
        struct Curl {
            let status: Int
            let body: String
            let headers: String
        }

        /// curl, resolving `*.localhost` to the loopback as browsers do.
        static func curl(_ url: String, _ extra: [String] = [], output: String? = nil) throws -> Curl {
            let headerFile = FileManager.default.temporaryDirectory.appendingPathComponent("h-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: headerFile) }
            var arguments = ["-s", "-D", headerFile, "-w", "\n%{http_code}", "--max-time", "120"]
            if let output { arguments += ["-o", output] }
            let (_, data) = try Subprocess.run("/usr/bin/curl", arguments + extra + [url], mergeStandardError: false)
            var text = String(decoding: data, as: UTF8.self)
            let code = Int(text.split(separator: "\n").last ?? "") ?? 0
            if let cut = text.lastIndex(of: "\n") { text = String(text[..<cut]) }
            return Curl(status: code, body: text, headers: (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? "")
        }

        static func json(_ text: String) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }

        /// Writes `app` into the sandbox as `file` and starts `command` as its dev server on `port`.
        static func serve(_ host: HostProcess, key: String, sandbox: String, app: String = PreviewApps.python, file: String = "server.py",
                          command: String, port: Int, session: String = "dev_server_web") async throws {
            #expect(try await host.requestBytes(.PUT, "/api/sandboxes/\(sandbox)/files/content?path=\(file)", key: key, body: Array(app.utf8)).status == 200)
            let body = JSONValue.object(["command": .string(command), "port": .number(Double(port)), "session_name": .string(session)]).jsonText
            let started = try await host.request(.POST, "/api/sandboxes/\(sandbox)/dev-server/start", key: key, body: body)
            #expect(started.status == 200, "\(started.body)")
        }

        /// The preview URL of `port` once something listens there (polling `preview-url`), or "".
        static func previewURL(_ host: HostProcess, key: String, sandbox: String, port: Int) async throws -> String {
            for _ in 0..<100 {
                let answer = json(try await host.request(.GET, "/api/sandboxes/\(sandbox)/preview-url?port=\(port)", key: key).body)
                if let url = answer["preview_url"] as? String { return url }
                try await Task.sleep(for: .milliseconds(100))
            }
            return ""
        }

        /// Reads the dev-server stream until `preview_url` (or the end); answers the events.
        static func followUntilPreview(_ host: HostProcess, key: String, sandbox: String) async throws -> [[String: Any]] {
            var request = HTTPClientRequest(url: "\(host.baseURL)/api/sandboxes/\(sandbox)/dev-server/stream")
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            var events: [[String: Any]] = []
            var reader = EventStreamReader()
            for try await buffer in response.body {
                for message in reader.feed(buffer) {
                    let event = json(message.data)
                    events.append(event)
                    if event["type"] as? String == "preview_url" || event["type"] as? String == "done" { return events }
                }
            }
            return events
        }

        @Test("a dev server bound to localhost: stream until preview_url, then a page, a 50 MB file, headers, redirects and uploads through both proxy forms")
        func previewThroughBothForms() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            defer { Task { try? await host.stop() } }
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key)
            let files = "/api/sandboxes/\(sandbox)/files/content?path="
            #expect(try await host.requestBytes(.PUT, files + "server.py", key: key, body: Array(PreviewApps.python.utf8)).status == 200)
            let made = try await host.request(.POST, "/api/sandboxes/\(sandbox)/execute", key: key,
                                              body: #"{"command":"head -c 50000000 /dev/urandom > big.bin && sha256sum big.bin"}"#)
            let digest = String((Self.json(made.body)["stdout"] as? String ?? "").prefix(64))

            // Not listening yet.
            let before = Self.json(try await host.request(.GET, "/api/sandboxes/\(sandbox)/preview-url?port=8000", key: key).body)
            #expect(before["status"] as? String == "dev_server_not_running")
            #expect(before["preview_url"] is NSNull)

            let started = try await host.request(.POST, "/api/sandboxes/\(sandbox)/dev-server/start", key: key,
                                                 body: #"{"command":"python3 server.py 8000","port":8000}"#)
            #expect(started.status == 200, "\(started.body)")
            #expect(Self.json(started.body)["session_name"] as? String == "dev_server_web")

            let events = try await Self.followUntilPreview(host, key: key, sandbox: sandbox)
            let statuses = events.filter { $0["type"] as? String == "status" }.compactMap { $0["status"] as? String }
            #expect(statuses == ["checking", "starting", "running"])
            #expect(events.contains { $0["type"] as? String == "log" && ($0["data"] as? String) == "listening on 8000" })
            let preview = try #require(events.last)
            #expect(preview["type"] as? String == "preview_url")
            #expect(preview["port"] as? Int == 8000)
            let url = try #require(preview["url"] as? String)
            #expect(url.hasPrefix("http://8000-\(sandbox).preview.localhost:\(host.port)/?preview_token="))
            let pathURL = try #require(preview["path_url"] as? String)

            let available = Self.json(try await host.request(.GET, "/api/sandboxes/\(sandbox)/preview-url?port=8000", key: key).body)
            #expect(available["status"] as? String == "available")
            #expect(available["preview_url"] as? String == url)

            for (form, entry) in [("host", url), ("path", pathURL)] {
                let jar = FileManager.default.temporaryDirectory.appendingPathComponent("jar-\(UUID())").path
                defer { try? FileManager.default.removeItem(atPath: jar) }
                // The token once: a cookie for this preview and a redirect without it; then the page.
                let first = try Self.curl(entry, ["-c", jar])
                #expect(first.status == 302, "\(form): \(first.body)")
                #expect(first.headers.lowercased().contains("set-cookie: sbx_preview_"))
                #expect(!(first.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("location:") } ?? "").contains("preview_token"))
                let base = entry.components(separatedBy: "?").first!
                let page = try Self.curl(base, ["-b", jar])
                #expect(page.status == 200, "\(form)")
                #expect(page.body.contains("Preview works"))

                // What the app sees: its own Host, forwarding headers, our cookie and key gone,
                // the app's own cookie kept.
                let seen = Self.json(try Self.curl(base + "headers?q=1", ["-b", jar, "-H", "Cookie: theme=dark", "-H", "Authorization: Bearer \(key)"]).body)
                let headers = seen["headers"] as? [String: String] ?? [:]
                #expect(headers["host"] == "localhost:8000", "\(form): \(headers)")
                #expect(headers["x-forwarded-host"] != nil)
                #expect(headers["authorization"] == nil)
                #expect(!(headers["cookie"] ?? "").contains("sbx_preview_"))
                #expect((headers["cookie"] ?? "").contains("theme=dark"))
                #expect(seen["path"] as? String == "/headers?q=1")

                // A redirect the app aims at itself stays on the preview.
                let redirect = try Self.curl(base + "redirect", ["-b", jar])
                #expect(redirect.status == 302)
                let location = redirect.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("location:") }.map { String($0.dropFirst(10)) } ?? ""
                #expect(location == (form == "host" ? "http://8000-\(sandbox).preview.localhost:\(host.port)/target?x=1"
                                                    : "http://127.0.0.1:\(host.port)/preview/\(sandbox)/8000/target?x=1"), "\(form)")

                // A 20 MB upload streams to the app.
                let upload = FileManager.default.temporaryDirectory.appendingPathComponent("up-\(UUID())").path
                defer { try? FileManager.default.removeItem(atPath: upload) }
                _ = FileManager.default.createFile(atPath: upload, contents: Data(repeating: 7, count: 20 << 20))
                let posted = Self.json(try Self.curl(base + "upload", ["-b", jar, "--data-binary", "@\(upload)"]).body)
                #expect(posted["length"] as? Int == 20 << 20, "\(form)")
                let (_, sum) = try Subprocess.run("/usr/bin/sha256sum", [upload])
                #expect(posted["sha256"] as? String == String(String(decoding: sum, as: UTF8.self).prefix(64)), "\(form)")
            }

            // The 50 MB file, through `python3 -m http.server` (the contract's example server).
            _ = try await host.request(.POST, "/api/sandboxes/\(sandbox)/dev-server/start", key: key,
                                       body: #"{"command":"python3 -m http.server 8001","port":8001,"session_name":"files"}"#)
            #expect(try await Self.previewURL(host, key: key, sandbox: sandbox, port: 8001) != "")
            for form in ["host", "path"] {
                let output = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID())").path
                defer { try? FileManager.default.removeItem(atPath: output) }
                let target = form == "host" ? "http://8001-\(sandbox).preview.localhost:\(host.port)/big.bin" : "\(host.baseURL)/preview/\(sandbox)/8001/big.bin"
                let fetched = try Self.curl(target, ["-H", "Authorization: Bearer \(key)"], output: output)
                #expect(fetched.status == 200, "\(form)")
                let (_, sum) = try Subprocess.run("/usr/bin/sha256sum", [output])
                #expect(String(decoding: sum, as: UTF8.self).hasPrefix(digest) && digest.count == 64, "\(form)")
            }
        }

        @Test("no token, a wrong token, another sandbox's token, a crafted Host or path: 404 or nothing reached but that sandbox's port")
        func previewAccess() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            defer { Task { try? await host.stop() } }
            let key = try host.adminKey
            let (_, first) = try await host.createSandbox(key: key, name: "a")
            let (_, second) = try await host.createSandbox(key: key, name: "b")
            var tokens: [String: String] = [:]
            for (sandbox, port) in [(first, 8000), (second, 9000)] {
                try await Self.serve(host, key: key, sandbox: sandbox, command: "python3 server.py \(port)", port: port)
            }
            for (sandbox, port) in [(first, 8000), (second, 9000)] {
                tokens[sandbox] = try await Self.previewURL(host, key: key, sandbox: sandbox, port: port).components(separatedBy: "preview_token=").last
            }
            let firstToken = try #require(tokens[first]), secondToken = try #require(tokens[second])
            #expect(firstToken != secondToken && firstToken.count >= 24)
            let origin = "http://8000-\(first).preview.localhost:\(host.port)"

            #expect(try Self.curl(origin + "/").status == 404)
            #expect(try Self.curl(origin + "/?preview_token=wrong").status == 404)
            #expect(try Self.curl(origin + "/?preview_token=\(secondToken)").status == 404)
            #expect(try Self.curl(origin + "/", ["-b", "sbx_preview_\(first.replacingOccurrences(of: "-", with: "_"))=\(secondToken)"]).status == 404)
            #expect(try Self.curl("\(host.baseURL)/preview/\(first)/8000/").status == 404)
            // Another user's key is not the owner's.
            let other = try HostProcess.command(["users", "create", "mallory", "--data-dir", dataDir]).output
            let otherKey = other.split(separator: "\n").last.map(String.init) ?? ""
            #expect(try Self.curl(origin + "/", ["-H", "Authorization: Bearer \(otherKey)"]).status == 404)
            // The owner's key works; the first sandbox's token never opens the second.
            #expect(try Self.curl(origin + "/", ["-H", "Authorization: Bearer \(key)"]).status == 200)
            #expect(try Self.curl("http://9000-\(second).preview.localhost:\(host.port)/?preview_token=\(firstToken)").status == 404)

            // Only that sandbox's own ports: the second sandbox's 9000 and the host's API port are
            // not there from inside the first.
            let cookie = ["-b", "sbx_preview_\(first.replacingOccurrences(of: "-", with: "_"))=\(firstToken)"]
            let crossPort = try Self.curl("http://9000-\(first).preview.localhost:\(host.port)/", cookie)
            #expect(crossPort.status == 503, "\(crossPort.body)")
            let apiPort = try Self.curl("http://\(host.port)-\(first).preview.localhost:\(host.port)/api/projects", cookie + ["-H", "Authorization: Bearer \(key)"])
            #expect(apiPort.status == 503)
            #expect(!apiPort.body.contains("projects"))
            // Crafted paths and hosts are not previews of anything else.
            for path in ["/preview/\(first)/0/", "/preview/\(first)/70000/", "/preview/\(first)/8000abc/", "/preview/\(first)%2F..%2F\(second)/9000/"] {
                let answer = try Self.curl(host.baseURL + path, cookie + ["--path-as-is"])
                #expect(answer.status == 404, "\(path): \(answer.status)")
            }
            // `..` out of the preview prefix is the API itself, which wants its key.
            let escaped = try Self.curl(host.baseURL + "/preview/\(first)/8000/../../../api/projects", cookie + ["--path-as-is"])
            #expect(escaped.status == 404 || escaped.status == 401)
            #expect(!escaped.body.contains("project_id"))
            for name in ["8000-\(first).preview.localhost.evil.com", "8000-\(first)-x.preview.localhost", "x-\(first).preview.localhost", "8000-.preview.localhost"] {
                let answer = try Self.curl("\(host.baseURL)/", cookie + ["-H", "Host: \(name):\(host.port)"])
                #expect(answer.status == 404, "\(name): \(answer.status) \(answer.body.prefix(100))")
            }
        }
    }
}

extension HeavySuites.PreviewTests {
    @Test("WebSocket upgrades through both forms reach a Node server on localhost: subprotocol, echoes, a 100 KB message")
    func webSocketThroughPreview() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        try await Self.serve(host, key: key, sandbox: sandbox, app: PreviewApps.node, file: "ws.js", command: "node ws.js 8002", port: 8002)
        let url = try await Self.previewURL(host, key: key, sandbox: sandbox, port: 8002)
        try #require(!url.isEmpty, "the node server never listened")
        let token = url.components(separatedBy: "preview_token=").last ?? ""
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("ws-\(UUID()).py").path
        try PreviewApps.webSocketClient.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let cookie = "sbx_preview_\(sandbox.replacingOccurrences(of: "-", with: "_"))=\(token)"
        for (name, path) in [("8002-\(sandbox).preview.localhost:\(host.port)", "/hmr"), ("127.0.0.1:\(host.port)", "/preview/\(sandbox)/8002/hmr")] {
            let (status, output) = try Subprocess.run("/usr/bin/env", ["python3", script, String(host.port), name, path, cookie, "hello", "second", "big:100000"])
            let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
            #expect(status == 0, "\(name): \(lines)")
            #expect(lines.first?.contains("101") == true, "\(name): \(lines)\n\(host.log.suffix(2000))")
            #expect(lines.dropFirst().first == "vite-hmr")
            #expect(Array(lines.dropFirst(2)) == ["echo: hello", "echo: second", "echo: …100006"], "\(name): \(lines)")
        }
        // Without the token the upgrade is not made: hummingbird-websocket answers any refused
        // upgrade with an empty 400, the same for a preview that exists and one that does not.
        for name in ["8002-\(sandbox).preview.localhost:\(host.port)", "8002-nosuchsandbox.preview.localhost:\(host.port)"] {
            let (_, refused) = try Subprocess.run("/usr/bin/env", ["python3", script, String(host.port), name, "/hmr", "x=y", "hello"])
            #expect(String(decoding: refused, as: UTF8.self).hasPrefix("HTTP/1.1 400"), "\(name)")
        }
    }
}

extension HeavySuites.PreviewTests {
    static func rssKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("Chromium opens the preview URL: token → cookie → page, whose script fetches /api/data from the same dev server")
    func chromiumRendersThePreview() async throws {
        let browser = try #require(Self.chromium, "Debian's chromium package is needed (make test installs it)")
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        try await Self.serve(host, key: key, sandbox: sandbox, command: "python3 server.py 5173", port: 5173)
        let url = try await Self.previewURL(host, key: key, sandbox: sandbox, port: 5173)
        try #require(!url.isEmpty)
        let profile = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let (status, output) = try Subprocess.run(browser, [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile)",
            "--virtual-time-budget=10000", "--dump-dom", url,
        ], mergeStandardError: false)
        let dom = String(decoding: output, as: UTF8.self)
        #expect(status == 0)
        #expect(dom.contains("Preview works"), "\(dom.prefix(500))")
        #expect(dom.contains(#"<div id="out">hello from the sandbox</div>"#), "\(dom.prefix(800))")
    }

    @Test("a 10 GB streamed response through the preview keeps the host's memory flat")
    func largeResponseFlatMemory() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir)
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        try await Self.serve(host, key: key, sandbox: sandbox, command: "python3 server.py 8000", port: 8000)
        try #require(try await Self.previewURL(host, key: key, sandbox: sandbox, port: 8000) != "")
        // One small transfer first, so what the proxy's first use allocates once (event-loop
        // threads' malloc arenas, the client bootstrap) is in the baseline.
        _ = try Subprocess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-H", "Authorization: Bearer \(key)",
                                                 "http://8000-\(sandbox).preview.localhost:\(host.port)/big?mb=64"])
        let pid = host.process.processIdentifier
        let baseline = Self.rssKiB(pid)
        let peak = Locked(0)
        let sampler = Task {
            while !Task.isCancelled {
                let now = Self.rssKiB(pid)
                peak.mutate { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        let megabytes = Int(ProcessInfo.processInfo.environment["PREVIEW_STREAM_MB"] ?? "") ?? 10_240
        let started = ContinuousClock.now
        let (_, output) = try Subprocess.run("/usr/bin/curl", [
            "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "--max-time", "900", "-H", "Authorization: Bearer \(key)",
            "http://8000-\(sandbox).preview.localhost:\(host.port)/big?mb=\(megabytes)",
        ], mergeStandardError: false)
        sampler.cancel()
        let elapsed = ContinuousClock.now - started
        #expect(String(decoding: output, as: UTF8.self) == "200 \(megabytes << 20)")
        let growth = (peak.value - baseline) / 1024
        #expect(growth < 64, "host RSS grew \(growth) MiB while streaming \(megabytes) MB")
        print("streamed \(megabytes) MiB through the preview in \(elapsed), host RSS +\(growth) MiB")
    }
}
