import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// Tenant content never acts with the API's origin (issue 14, item 10): path-based previews
    /// and `/deployments/…` are sandboxed to an opaque origin, an app's cookies stay inside its
    /// own preview, and the URLs the API hands out are the host-based ones. Against the real
    /// binary, real sandboxes, curl and Chromium.
    @Suite("User content origin", .serialized)
    struct UserContentOriginTests {
        typealias Previews = HeavySuites.PreviewTests

        /// A tenant's app: `/secret` (what another tenant wants to read), `/cookies` (cookies that
        /// try to leave the preview, plant a grant, and wipe the site), `/go` (a redirect to
        /// argv[3]), `/steal` (a page whose script reads argv[4] with the browser's cookies, and
        /// tries the origin's storage).
        static let app = #"""
        import http.server, sys
        PORT, NAME = int(sys.argv[1]), sys.argv[2]
        NEXT = sys.argv[3] if len(sys.argv) > 3 else "/"
        TARGET = sys.argv[4] if len(sys.argv) > 4 else "/secret"
        PLANT = sys.argv[5] if len(sys.argv) > 5 else "sbx_preview_x"
        STEAL = """<!doctype html><html><body><h1>page of %s</h1><div id="storage">?</div><div id="out">waiting</div><script>
        try { localStorage.setItem('k', '1'); document.getElementById('storage').textContent = 'STORAGE-OPEN'; }
        catch (e) { document.getElementById('storage').textContent = 'STORAGE-CLOSED'; }
        fetch('%s', {credentials: 'include'}).then(r => r.text()).then(
          t => { document.getElementById('out').textContent = 'READ:' + t; },
          e => { document.getElementById('out').textContent = 'BLOCKED'; });
        </script></body></html>""" % (NAME, TARGET)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def reply(self, status, body, kind="text/html", extra=()):
                body = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra: self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                if self.path == "/secret":
                    self.reply(200, "secret-of-" + NAME, "text/plain")
                elif self.path == "/cookies":
                    self.reply(200, "cookies", "text/plain", extra=[
                        ("Set-Cookie", "session=abc; Path=/; HttpOnly"),
                        ("Set-Cookie", "wide=1; Domain=preview.localhost; Path=/"),
                        ("Set-Cookie", "deep=2; path=/sub; domain=.localhost; SameSite=Lax"),
                        ("Set-Cookie", "plain=3"),
                        ("Set-Cookie", PLANT + "=planted; Path=/"),
                        ("Clear-Site-Data", '"cookies", "storage"'),
                        ("Service-Worker-Allowed", "/"),
                    ])
                elif self.path == "/go":
                    self.reply(302, "", extra=[("Location", NEXT)])
                else:
                    self.reply(200, STEAL)

        print(f"listening on {PORT}", flush=True)
        http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
        """#

        static func lines(_ headers: String, _ name: String) -> [String] {
            headers.split(separator: "\r\n").filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }

        static func cookieName(_ sandbox: String) -> String { "sbx_preview_" + sandbox.replacingOccurrences(of: "-", with: "_") }

        @Test("an app's Set-Cookie stays in its preview (path forced under the prefix, no Domain, no planted grant); path-based pages are sandboxed")
        func cookiesAndPolicyHeaders() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            defer { Task { try? await host.stop() } }
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key, name: "a")
            let (_, other) = try await host.createSandbox(key: key, name: "b")
            try await Previews.serve(host, key: key, sandbox: sandbox, app: Self.app, file: "app.py",
                                     command: "python3 app.py 8000 a / /secret \(Self.cookieName(other))", port: 8000)
            let url = try await Previews.previewURL(host, key: key, sandbox: sandbox, port: 8000)
            // The URL the API hands out is the preview's own origin, not the API's.
            #expect(url.hasPrefix("http://8000-\(sandbox).preview.localhost:\(host.port)/?preview_token="), "\(url)")
            let token = try #require(url.components(separatedBy: "preview_token=").last)
            let auth = ["-H", "Authorization: Bearer \(key)"]

            // Path-based: every cookie under /preview/{id}/8000/, none with a Domain, no grant.
            let prefix = "/preview/\(sandbox)/8000"
            let path = try Previews.curl("\(host.baseURL)\(prefix)/cookies", auth)
            #expect(path.status == 200)
            let pathCookies = Self.lines(path.headers, "Set-Cookie")
            #expect(pathCookies.count == 4, "\(pathCookies)")
            for cookie in pathCookies {
                #expect(!cookie.lowercased().contains("domain="), "\(cookie)")
                #expect(!cookie.lowercased().hasPrefix("sbx_preview_"), "\(cookie)")
                let paths = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.lowercased().hasPrefix("path=") }
                #expect(paths.count == 1 && paths[0].dropFirst(5).hasPrefix(prefix + "/"), "\(cookie)")
            }
            #expect(pathCookies.contains("session=abc; HttpOnly; Path=\(prefix)/"), "\(pathCookies)")
            #expect(pathCookies.contains("deep=2; SameSite=Lax; Path=\(prefix)/sub"), "\(pathCookies)")
            #expect(Self.lines(path.headers, "Clear-Site-Data").isEmpty)
            #expect(Self.lines(path.headers, "Service-Worker-Allowed").isEmpty)
            // The page itself runs in an opaque origin: sandbox, without allow-same-origin.
            for answer in [path, try Previews.curl("\(host.baseURL)\(prefix)/", auth)] {
                let policies = Self.lines(answer.headers, "Content-Security-Policy")
                #expect(policies.contains { $0.hasPrefix("sandbox") }, "\(answer.headers)")
                #expect(!policies.contains { $0.contains("allow-same-origin") })
            }

            // Host-based: its own origin; cookies host-only (no Domain), the path the app chose.
            let origin = "http://8000-\(sandbox).preview.localhost:\(host.port)"
            let hosted = try Previews.curl("\(origin)/cookies", auth)
            #expect(hosted.status == 200)
            let hostCookies = Self.lines(hosted.headers, "Set-Cookie")
            #expect(hostCookies.count == 4, "\(hostCookies)")
            #expect(!hostCookies.contains { $0.lowercased().contains("domain=") || $0.lowercased().hasPrefix("sbx_preview_") }, "\(hostCookies)")
            #expect(hostCookies.contains("session=abc; Path=/; HttpOnly"), "\(hostCookies)")
            #expect(hostCookies.contains("wide=1; Path=/"), "\(hostCookies)")
            #expect(Self.lines(hosted.headers, "Clear-Site-Data").isEmpty, "it would clear every sibling preview's cookies")

            // A grant cookie planted for the whole preview domain by a sibling page's script comes
            // first in the header: the real one after it still opens the preview.
            let tossed = try Previews.curl("\(origin)/secret", ["-H", "Cookie: \(Self.cookieName(sandbox))=planted; \(Self.cookieName(sandbox))=\(token)"])
            #expect(tossed.status == 200 && tossed.body == "secret-of-a", "\(tossed.status) \(tossed.body)")
        }

        @Test("Chromium: a path-based preview page can neither read another tenant's path-based preview with the victim's cookie nor the API origin's storage")
        func pathPreviewCannotReadAnother() async throws {
            let browser = try #require(Previews.chromium, "Debian's chromium package is needed (make test installs it)")
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            defer { Task { try? await host.stop() } }
            let key = try host.adminKey
            let (_, attacker) = try await host.createSandbox(key: key, name: "attacker")
            let (_, victim) = try await host.createSandbox(key: key, name: "victim")
            // The attacker's page reads the victim's preview, which the browser holds a cookie for.
            try await Previews.serve(host, key: key, sandbox: attacker, app: Self.app, file: "app.py",
                                     command: "python3 app.py 8000 attacker / /preview/\(victim)/9000/secret", port: 8000)
            let attackerURL = try await Previews.previewURL(host, key: key, sandbox: attacker, port: 8000)
            let attackerToken = try #require(attackerURL.components(separatedBy: "preview_token=").last)
            // The victim opens their own path-based preview (its cookie is set), which sends them
            // on to the attacker's link (as any link the victim follows would).
            let link = "\(host.baseURL)/preview/\(attacker)/8000/steal?preview_token=\(attackerToken)"
            try await Previews.serve(host, key: key, sandbox: victim, app: Self.app, file: "app.py",
                                     command: "python3 app.py 9000 victim '\(link)'", port: 9000)
            let victimURL = try await Previews.previewURL(host, key: key, sandbox: victim, port: 9000)
            let victimToken = try #require(victimURL.components(separatedBy: "preview_token=").last)

            let profile = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: profile) }
            let (status, output) = try Subprocess.run(browser, [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile)",
                "--virtual-time-budget=10000", "--dump-dom", "\(host.baseURL)/preview/\(victim)/9000/go?preview_token=\(victimToken)",
            ], mergeStandardError: false)
            let dom = String(decoding: output, as: UTF8.self)
            #expect(status == 0)
            #expect(dom.contains("page of attacker"), "the redirects did not reach the attacker's page: \(dom.prefix(800))")
            #expect(!dom.contains("secret-of-victim"), "the attacker's page read the victim's preview: \(dom.prefix(800))")
            // (The script's own text holds these words too: match the elements it fills in.)
            #expect(dom.contains(#"<div id="out">BLOCKED</div>"#), "\(dom.prefix(800))")
            #expect(dom.contains(#"<div id="storage">STORAGE-CLOSED</div>"#), "the page used the API origin's storage: \(dom.prefix(800))")
        }

        /// A page whose script reports to the page that framed it, once an image (a subresource,
        /// so only with the preview's cookie) has loaded.
        static let framedApp = #"""
        import http.server, sys
        PORT = int(sys.argv[1])
        PAGE = b"""<!doctype html><html><body>framed<img id="pic" src="pic.svg"><script>
        const pic = document.getElementById('pic');
        const report = (what) => parent.postMessage(what, '*');
        if (pic.complete && pic.naturalWidth) report('FRAME-OK'); else { pic.onload = () => report('FRAME-OK'); pic.onerror = () => report('FRAME-IMAGE-FAILED'); }
        </script></body></html>"""
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def do_GET(self):
                body, kind = (b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', "image/svg+xml") if self.path == "/pic.svg" else (PAGE, "text/html")
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        print(f"listening on {PORT}", flush=True)
        http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
        """#

        /// Serves one page on a free loopback port (another site than the preview's, as the
        /// interface is); answers its URL and the server, to terminate.
        static func outerPage(_ html: String) throws -> (String, Process) {
            let server = Process()
            server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            server.arguments = ["python3", "-c", """
                import http.server, sys
                PAGE = sys.argv[1].encode()
                class Handler(http.server.BaseHTTPRequestHandler):
                    def log_message(self, *args): pass
                    def do_GET(self):
                        self.send_response(200); self.send_header("Content-Type", "text/html"); self.send_header("Content-Length", str(len(PAGE))); self.end_headers(); self.wfile.write(PAGE)
                server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
                print(server.server_address[1], flush=True)
                server.serve_forever()
                """, html]
            let pipe = Pipe()
            server.standardOutput = pipe
            try server.run()
            var line = ""
            while !line.contains("\n") {
                let data = pipe.fileHandleForReading.availableData
                if data.isEmpty { break }
                line += String(decoding: data, as: UTF8.self)
            }
            return ("http://127.0.0.1:\(line.trimmingCharacters(in: .whitespacesAndNewlines))/", server)
        }

        @Test("Chromium: the host-based preview URL the API returns works inside a cross-site iframe (the interface's preview frame), subresources included")
        func hostPreviewInCrossSiteFrame() async throws {
            let browser = try #require(Previews.chromium, "Debian's chromium package is needed (make test installs it)")
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            defer { Task { try? await host.stop() } }
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key)
            try await Previews.serve(host, key: key, sandbox: sandbox, app: Self.framedApp, file: "framed.py", command: "python3 framed.py 8000", port: 8000)
            let url = try await Previews.previewURL(host, key: key, sandbox: sandbox, port: 8000)
            try #require(url.hasPrefix("http://8000-\(sandbox).preview.localhost:"))
            let (outer, server) = try Self.outerPage("""
                <!doctype html><html><body><div id="frame">waiting</div>
                <script>addEventListener('message', (event) => { document.getElementById('frame').textContent = event.data; });</script>
                <iframe src="\(url)"></iframe></body></html>
                """)
            // SIGKILL: a child inherits the test thread's blocked signals, SIGTERM included.
            defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
            let profile = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: profile) }
            let (status, output) = try Subprocess.run(browser, [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile)",
                "--virtual-time-budget=10000", "--dump-dom", outer,
            ], mergeStandardError: false)
            let dom = String(decoding: output, as: UTF8.self)
            #expect(status == 0)
            #expect(dom.contains(#"<div id="frame">FRAME-OK</div>"#), "\(dom.prefix(600))")
        }

        @Test("a WebSocket from a sibling preview's page (another Origin) is not upgraded; the preview's own origin and non-browser clients are")
        func webSocketFromAnotherOrigin() async throws {
            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir)
            defer { Task { try? await host.stop() } }
            let key = try host.adminKey
            let (_, sandbox) = try await host.createSandbox(key: key)
            try await Previews.serve(host, key: key, sandbox: sandbox, app: PreviewApps.node, file: "ws.js", command: "node ws.js 8002", port: 8002)
            let url = try await Previews.previewURL(host, key: key, sandbox: sandbox, port: 8002)
            try #require(!url.isEmpty, "the node server never listened")
            let token = url.components(separatedBy: "preview_token=").last ?? ""
            let name = "8002-\(sandbox).preview.localhost:\(host.port)"
            let handshake = #"""
            import base64, os, socket, struct, sys
            port, host, cookie, origin = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
            s = socket.create_connection(("127.0.0.1", port), timeout=20)
            extra = f"Origin: {origin}\r\n" if origin != "-" else ""
            s.sendall((f"GET /hmr HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
                       f"Cookie: {cookie}\r\n{extra}\r\n").encode())
            status = s.recv(4096).decode(errors="replace").split("\r\n")[0]
            print(status)
            if " 101 " in status:
                # A closing handshake: the test app dies on a connection torn down without one.
                s.sendall(bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack(">H", 1000))
                try:
                    while s.recv(4096): pass
                except OSError: pass
            """#
            func status(origin: String) throws -> String {
                let (_, output) = try Subprocess.run("/usr/bin/env", ["python3", "-c", handshake, String(host.port), name, "\(Self.cookieName(sandbox))=\(token)", origin])
                return String(decoding: output, as: UTF8.self)
            }
            #expect(try status(origin: "http://\(name)").contains(" 101 "))
            #expect(try status(origin: "-").contains(" 101 "))
            for foreign in ["http://8000-othersandbox.preview.localhost:\(host.port)", "null", "http://127.0.0.1:\(host.port)"] {
                let answer = try status(origin: foreign)
                #expect(!answer.contains(" 101 ") && answer.hasPrefix("HTTP/1.1 "), "\(foreign): \(answer)")
            }
        }
    }
}

/// Deployed sites: the `url` the API returns is the site's own origin; `/deployments/…` on the
/// API's host is sandboxed; every deployed file carries `nosniff`.
@Suite(.enabled(if: runningAsRoot, "deployments build in a sandbox, which needs root, as in CI"))
struct DeployedSiteOriginTests {
    @Test(.testHost(configure: unthrottled)) func aDeployedSiteIsItsOwnOriginAndSandboxedOnTheAPIHost() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, client = fixture.client
        let (project, sandbox) = try await SandboxClient(client: client, key: host.adminKey).create(name: "site")
        let files = FileClient(client: client, key: host.adminKey, sandbox: sandbox)
        _ = try await files.put("src/page.html", "<h1>site</h1><script>localStorage.getItem('key')</script>\n")
        let build = "mkdir -p dist && cp src/page.html dist/index.html && printf '<h1>not an image</h1>' > dist/logo.png"
        let deployed = try await DeployTests.deploy(client, host.adminKey, project, ["build_command": build])
        #expect(deployed["status"] as? String == "deployed", "\(deployed)")
        let url = deployed["url"] as? String ?? ""
        #expect(url.hasPrefix("http://\(project).apps.localhost:") && url.hasSuffix("/") && !url.contains("/deployments/"), "\(url)")
        for route in ["deployment/status", "deployment/live-status"] {
            let answer = try await client.execute(uri: "/api/project/\(project)/\(route)", method: .get, headers: .bearer(host.adminKey)) { $0.json }
            #expect(answer["url"] as? String == url, "\(route): \(answer)")
        }

        for uri in ["/deployments/\(project)/", "/deployments/\(project)/logo.png", "/deployments/\(project)/client/route"] {
            let headers = try await client.execute(uri: uri, method: .get) { $0.headers }
            let policy = headers[.contentSecurityPolicy] ?? ""
            #expect(policy.hasPrefix("sandbox") && !policy.contains("allow-same-origin"), "\(uri): \(policy)")
            #expect(headers[.xContentTypeOptions] == "nosniff", "\(uri)")
        }
        let (status, headers) = try await client.execute(
            uri: "/logo.png", method: .get, headers: [HTTPField.Name("Host")!: "\(project).apps.localhost:8000"]) { ($0.status, $0.headers) }
        #expect(status == .ok && headers[.xContentTypeOptions] == "nosniff")
        #expect(headers[.contentSecurityPolicy] == nil, "its own origin needs no sandbox")
    }
}

/// The rules on their own, for the spellings a live app rarely sends.
struct UpstreamCookieRuleTests {
    let path = PreviewTarget(sandboxID: "abc", port: 3000, form: .path, upstreamPath: "/")
    let host = PreviewTarget(sandboxID: "abc", port: 3000, form: .host, upstreamPath: "/")

    @Test func cookiesStayInTheirPreview() {
        #expect(UpstreamCookie.confined("a=b;Path=/x;Domain=preview.localhost", to: path) == "a=b; Path=/preview/abc/3000/x")
        #expect(UpstreamCookie.confined("a=b; Path=/one; path=/two", to: path) == "a=b; Path=/preview/abc/3000/two", "the last Path wins")
        #expect(UpstreamCookie.confined("a=b; Path=; Max-Age=5", to: path) == "a=b; Max-Age=5; Path=/preview/abc/3000/")
        #expect(UpstreamCookie.confined("a=b; Path=relative", to: path) == "a=b; Path=/preview/abc/3000/")
        #expect(UpstreamCookie.confined("a=b; Path = /x ;  DOMAIN = .localhost", to: path) == "a=b; Path=/preview/abc/3000/x")
        #expect(UpstreamCookie.confined("a=b; Domain=preview.localhost; Path=/x; Secure", to: host) == "a=b; Path=/x; Secure")
        #expect(UpstreamCookie.confined("=b; Path=/", to: path) == "=b; Path=/preview/abc/3000/")
        for planted in ["sbx_preview_abc=t; Path=/", " SBX_PREVIEW_other=t", "sbx_preview_abc"] {
            #expect(UpstreamCookie.confined(planted, to: path) == nil, "\(planted)")
            #expect(UpstreamCookie.confined(planted, to: host) == nil, "\(planted)")
        }
    }

    @Test func webSocketOrigins() {
        let name = "3000-abc.preview.localhost:8000"
        #expect(PreviewWebSocket.originAllowed(nil, host: name))
        #expect(PreviewWebSocket.originAllowed("http://3000-ABC.preview.localhost:8000", host: name))
        #expect(PreviewWebSocket.originAllowed("https://3000-abc.preview.example.com", host: "3000-abc.preview.example.com:443"))
        for other in ["null", "http://3001-abc.preview.localhost:8000", "http://127.0.0.1:8000", "http://3000-abc.preview.localhost:8000.evil", ""] {
            #expect(!PreviewWebSocket.originAllowed(other, host: name), "\(other)")
        }
        #expect(!PreviewWebSocket.originAllowed("http://x", host: nil))
    }
}
