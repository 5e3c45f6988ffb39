import AgentLoop
import Foundation
import Testing
@testable import SandboxHost

extension HeavySuites {
    /// CORS as a browser enforces it: headless Chromium loads a page from another origin (a
    /// server on another loopback port) whose script follows an agent run's stream with
    /// `EventSource` and `?token=`, against the real binary.
    @Suite(.enabled(if: runningAsRoot, "agent runs use a sandbox, which needs root, as in CI"), .timeLimit(.minutes(1)))
    struct CORSBrowserTests {
        /// Follows `{api}/api/agent-run/{run}/stream?token={key}` (all from the page's query) and
        /// writes what it got into `#out`: `EVENTS type,type:status,…` once the run's final
        /// status arrives, `ERROR …` if the browser refuses the stream.
        static let page = """
            <!doctype html><html><body><div id="out">waiting</div><script>
            const query = new URLSearchParams(location.search);
            const out = document.getElementById('out');
            const seen = [];
            const source = new EventSource(query.get('api') + '/api/agent-run/' + query.get('run') + '/stream?token=' + encodeURIComponent(query.get('key')));
            source.onmessage = (event) => {
              const data = JSON.parse(event.data);
              seen.push(data.type + (data.type === 'status' ? ':' + data.status : ''));
              if (data.type === 'status' && data.status !== 'running') { source.close(); out.textContent = 'EVENTS ' + seen.join(','); }
            };
            source.onerror = () => { source.close(); if (out.textContent === 'waiting') out.textContent = 'ERROR after ' + seen.join(','); };
            </script></body></html>
            """

        func chromium(_ browser: String, _ url: String) throws -> String {
            let profile = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: profile) }
            let (status, output) = try Subprocess.run(browser, [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(profile)",
                "--virtual-time-budget=10000", "--dump-dom", url,
            ], mergeStandardError: false)
            #expect(status == 0)
            return String(decoding: output, as: UTF8.self)
        }

        @Test("EventSource from a page on a listed origin receives the agent run's events; from an unlisted one, nothing")
        func eventSourceFromAnotherOrigin() async throws {
            let browser = try #require(HeavySuites.PreviewTests.chromium, "Debian's chromium package is needed (make test installs it)")
            let model = try await FakeModelServer.start(.openai, script: [.text("Hello from the model.")])
            defer { model.stop() }
            let (allowedPage, allowedServer) = try HeavySuites.UserContentOriginTests.outerPage(Self.page)
            defer { kill(allowedServer.processIdentifier, SIGKILL); allowedServer.waitUntilExit() }
            let (otherPage, otherServer) = try HeavySuites.UserContentOriginTests.outerPage(Self.page)
            defer { kill(otherServer.processIdentifier, SIGKILL); otherServer.waitUntilExit() }
            // The page's origin: scheme, host and port, without the path.
            let origin = String(allowedPage.dropLast())

            let dataDir = try TemporaryDirectory.make()
            defer { try? FileManager.default.removeItem(atPath: dataDir) }
            let host = try await HostProcess(dataDir: dataDir, environment: model.environment.merging(["SANDBOX_HOST_CORS_ORIGINS": origin]) { $1 })
            defer { Task { try? await host.stop() } }
            let key = try host.adminKey
            let (project, sandbox) = try await host.createSandbox(key: key)
            let thread = try #require(JSONValue.parse(try await host.request(.POST, "/api/threads", key: key, body: #"{"project_id":"\#(project)"}"#).body)?["thread_id"]?.stringValue)
            let started = try await host.request(.POST, "/api/thread/\(thread)/agent/start", key: key, body: #"{"message":"hi"}"#)
            let run = try #require(JSONValue.parse(started.body)?["agent_run_id"]?.stringValue, "\(started.body)")
            for _ in 0..<300 {
                if JSONValue.parse(try await host.request(.GET, "/api/agent-run/\(run)", key: key).body)?["status"]?.stringValue != "running" { break }
                try await Task.sleep(for: .milliseconds(100))
            }

            let query = "?api=\(host.baseURL)&run=\(run)&key=\(key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? key)"
            let dom = try chromium(browser, allowedPage + query)
            #expect(dom.contains(#"<div id="out">EVENTS status:running,"#), "\(dom.prefix(800))")
            #expect(dom.contains("content") && dom.contains("status:completed</div>"), "\(dom.prefix(800))")

            let refused = try chromium(browser, otherPage + query)
            #expect(refused.contains(#"<div id="out">ERROR after </div>"#), "\(refused.prefix(800))")

            // A preview's own `/api/…` (its Host names the preview) is the app's: no header of ours.
            let (_, headers) = try Subprocess.run("/usr/bin/curl", [
                "-s", "-o", "/dev/null", "-D", "-", "-H", "Origin: \(origin)", "-H", "Host: 3000-\(sandbox).preview.localhost:\(host.port)",
                "\(host.baseURL)/api/projects",
            ], mergeStandardError: false)
            let head = String(decoding: headers, as: UTF8.self).lowercased()
            #expect(head.hasPrefix("http/1.1 404") && !head.contains("access-control-"), "\(head)")
            let (_, apiHeaders) = try Subprocess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "-H", "Origin: \(origin)", "\(host.baseURL)/api/health"],
                                                     mergeStandardError: false)
            #expect(String(decoding: apiHeaders, as: UTF8.self).lowercased().contains("access-control-allow-origin: \(origin)"))
        }
    }
}
