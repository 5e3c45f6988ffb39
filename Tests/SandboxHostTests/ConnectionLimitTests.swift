import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

extension HeavySuites {
/// Connections that hold the host's descriptors without asking anything: with no cap and no
/// timeout, 20,000 silent TCP connections from anyone (no key needed) take every fd. Against the
/// real binary on loopback, with the limits set small through its environment.
@Suite("Connection limits", .serialized)
struct ConnectionLimitTests {
    /// A client that resets its connection as the server sets it up: the connection's pipeline
    /// is torn down under the setup, and a setup step that then failed dropped Hummingbird's
    /// NIOAsyncChannel unfinished, which traps (NIOAsyncWriter.swift:177) and ends the host.
    /// (A stress of that path: one run against the code before the fix did not hit the race.)
    @Test("connections reset as they are set up leave the host serving")
    func connectionsResetDuringSetup() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_MAX_CONNECTIONS_PER_ADDRESS": "0"])
        let port = host.port
        // Four threads, each connecting and resetting (SO_LINGER 0) 1,500 times, some after
        // sending half a request head.
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for index in 0..<1_500 {
                        guard let connection = try? RawConnection(port: port) else { continue }
                        if (index + worker) % 3 == 0 { try? connection.send("GET /api/hea") }
                        var linger = linger(l_onoff: 1, l_linger: 0)
                        setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))  // closed (reset) as it goes
                    }
                }
            }
        }
        #expect(host.process.isRunning, "the host died: \(host.log.suffix(3000))")
        #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
        try await host.stop()
    }

    @Test("connections from one address beyond the cap are closed; the others stay, and closing them frees their places")
    func perAddressCap() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: ["SANDBOX_HOST_MAX_CONNECTIONS_PER_ADDRESS": "50"])
        defer { Task { try? await host.stop() } }

        var connections: [RawConnection] = []
        for _ in 0..<80 { connections.append(try RawConnection(port: host.port)) }
        // The server accepts in order: wait until it has closed the 30 past the cap (the count
        // below says what it did if it never does), then see which ones it closed.
        var closed = Set<Int>()
        try? await waitUntil("the server to close the connections past the cap", timeout: .seconds(10)) {
            for (index, connection) in connections.enumerated() where !closed.contains(index) {
                if await connection.waitClosed(timeout: .milliseconds(1)) { closed.insert(index) }
            }
            return closed.count >= 30
        }
        var admitted: [RawConnection] = []
        for connection in connections {
            if !(await connection.waitClosed(timeout: .milliseconds(50))) { admitted.append(connection) }
        }
        #expect(80 - admitted.count == 30, "\(80 - admitted.count) of 80 silent connections closed; the cap is 50")

        // The admitted ones are real connections: one of them can still ask.
        let asking = try #require(admitted.last)
        try asking.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(await asking.waitClosed(timeout: .seconds(5)))
        #expect(asking.received.hasPrefix("HTTP/1.1 200"), "\(asking.received.prefix(200))")
        connections.removeAll()
        admitted.removeAll()
        // Their places are given back as they close: a client gets in again.
        var status = 0
        for _ in 0..<50 where status != 200 {
            status = (try? await host.request(.GET, "/api/health", key: nil).status) ?? 0
            if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == 200)
        var again: [RawConnection] = []
        for _ in 0..<40 { again.append(try RawConnection(port: host.port)) }
        try await Task.sleep(for: .milliseconds(300))
        var closedAgain = 0
        for connection in again {
            if await connection.waitClosed(timeout: .milliseconds(20)) { closedAgain += 1 }
        }
        #expect(closedAgain == 0, "places were not given back: \(closedAgain) of 40 closed")
    }

    @Test("beyond the global cap the server stops accepting until connections close; then it serves again")
    func globalCap() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: [
            "SANDBOX_HOST_MAX_CONNECTIONS": "20", "SANDBOX_HOST_MAX_CONNECTIONS_PER_ADDRESS": "0", "SANDBOX_HOST_HEADER_TIMEOUT_MS": "1500",
        ])
        defer { Task { try? await host.stop() } }
        var silent: [RawConnection] = []
        for _ in 0..<20 { silent.append(try RawConnection(port: host.port)) }
        try await Task.sleep(for: .milliseconds(300))
        // The kernel completes the handshake (the listen backlog) but the server does not take
        // the request until the silent ones are closed by their header timeout.
        let waiting = try RawConnection(port: host.port)
        let started = ContinuousClock.now
        try waiting.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(await waiting.waitClosed(timeout: .seconds(10)))
        let waited = ContinuousClock.now - started
        #expect(waiting.received.hasPrefix("HTTP/1.1 200"), "\(waiting.received.prefix(200))")
        #expect(waited > .milliseconds(800), "answered after \(waited) with every place taken")
        silent.removeAll()
    }

    @Test("a client that sends no head, or half a head, is closed after the header timeout; an idle keep-alive after the idle timeout")
    func headerAndIdleTimeouts() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let host = try await HostProcess(dataDir: dataDir, environment: [
            "SANDBOX_HOST_HEADER_TIMEOUT_MS": "1000", "SANDBOX_HOST_CONNECTION_IDLE_TIMEOUT_MS": "3000",
        ])
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey

        let silent = try RawConnection(port: host.port)
        let partial = try RawConnection(port: host.port)
        try partial.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        let keepAlive = try RawConnection(port: host.port)
        try keepAlive.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let stalledBody = try RawConnection(port: host.port)
        try stalledBody.send(
            "POST /api/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
        let started = ContinuousClock.now

        // Not at once: the timeout is a second.
        #expect(!(await silent.waitClosed(timeout: .milliseconds(400))))
        #expect(await silent.waitClosed(timeout: .milliseconds(2600)), "a silent connection stayed open past the header timeout")
        #expect(await partial.waitClosed(timeout: .milliseconds(500)), "half a head kept the connection open past the header timeout")
        #expect(ContinuousClock.now - started < .seconds(3))

        // The complete request was answered and the connection is kept alive past the header
        // timeout (a keep-alive is measured by the idle timeout), then closed after it.
        #expect(!(await keepAlive.waitClosed(timeout: .milliseconds(100))))
        #expect(keepAlive.received.hasPrefix("HTTP/1.1 200"), "\(keepAlive.received.prefix(200))")
        #expect(!(await stalledBody.waitClosed(timeout: .milliseconds(100))), "a body is not cut by the header timeout")
        #expect(await keepAlive.waitClosed(timeout: .seconds(4)), "an idle keep-alive connection stayed open past the idle timeout")
        #expect(await stalledBody.waitClosed(timeout: .seconds(2)), "a stalled body kept its connection past the idle timeout")
        #expect(stalledBody.received.isEmpty || !stalledBody.received.contains("201"))

        // The host still answers.
        #expect(try await host.request(.GET, "/api/health", key: nil).status == 200)
    }

    @Test("a Server-Sent Events stream quiet for longer than the idle timeout is not cut", .enabled(if: runningAsRoot, "sandboxes need root"))
    func quietStreamOutlivesIdleTimeout() async throws {
        let dataDir = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        // Heartbeats far apart: nothing is written for 3 s, three idle timeouts.
        let host = try await HostProcess(dataDir: dataDir, environment: [
            "SANDBOX_HOST_HEADER_TIMEOUT_MS": "1000", "SANDBOX_HOST_CONNECTION_IDLE_TIMEOUT_MS": "1000", "SANDBOX_HOST_HEARTBEAT_MS": "10000",
        ])
        defer { Task { try? await host.stop() } }
        let key = try host.adminKey
        let (_, sandbox) = try await host.createSandbox(key: key)
        let started = try await host.request(
            .POST, "/api/sandboxes/\(sandbox)/execute", key: key,
            body: #"{"command":"echo first; sleep 3; echo second","blocking":false,"session_name":"quiet"}"#)
        #expect(started.status == 200, "\(started.body)")

        var request = HTTPClientRequest(url: "\(host.baseURL)/api/sandboxes/\(sandbox)/sessions/quiet/stream")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
        #expect(response.status == .ok)
        var text = ""
        do {
            for try await buffer in response.body {
                text += String(buffer: buffer)
                if text.contains("second") { break }
            }
        } catch {
            Issue.record("the stream broke: \(error)")
        }
        #expect(text.contains("first") && text.contains("second"), "\(text.prefix(500))")
    }
}
}
