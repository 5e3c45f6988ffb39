import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost
@testable import SandboxRuntime

/// Interactive terminals (`POST …/pty`, the WebSocket `…/pty/{id}/ws`) end to end: the real
/// server in process, a real sandbox, a real WebSocket client.
@Suite(.timeLimit(.minutes(1))) struct TerminalTests {
    @Test("a login shell on the sandbox's own terminal: echo, tty, TERM, resize then stty size")
    func loginShell() async throws {
        try await TerminalTestHost.run { host in
            let (status, opened) = try await host.open(["cols": 100, "rows": 30])
            #expect(status == .created, "\(opened)")
            #expect(opened["cols"] as? Int == 100 && opened["rows"] as? Int == 30)
            #expect((opened["pid"] as? Int ?? 0) > 1)
            let terminal = try #require(opened["pty_id"] as? String)
            let socket = try await host.connect(terminal, queryToken: true)
            // Each check prints a marker the typed command does not contain (the terminal echoes input).
            try await socket.send("echo RT$((40+2))\r")
            try await socket.waitFor("RT42")
            try await socket.send("echo A$(tty)B\r")
            try await socket.waitFor("A/dev/pts/[0-9]+B")
            try await socket.send("echo T=$TERM=\r")
            try await socket.waitFor("T=xterm-256color=")
            try await socket.send("echo S=$(stty size)=\r")
            try await socket.waitFor("S=30 100=")
            try await socket.resize(columns: 120, rows: 40)
            try await socket.send("echo R=$(stty size)=\r")
            try await socket.waitFor("R=40 120=")
            let listed = try await host.list().ptys
            #expect(listed.first?["cols"] as? Int == 120 && listed.first?["rows"] as? Int == 40, "\(listed)")
            #expect(listed.first?["command"] as? String == "/bin/bash -l")
            #expect(listed.first?["running"] as? Bool == true)
        }
    }

    @Test("Ctrl-C interrupts sleep 100 and the prompt returns")
    func controlC() async throws {
        try await TerminalTestHost.run { host in
            let socket = try await host.connect(try await host.openTerminal())
            try await socket.send("echo UP$((1+1))\r")
            try await socket.waitFor("UP2")
            try await socket.send("sleep 100; echo AFTER$((1+1))\r")
            try await Task.sleep(for: .milliseconds(500))
            try await socket.send("\u{03}")
            try await socket.send("echo BACK$((2+3))\r")
            try await socket.waitFor("BACK5", timeout: .seconds(10))
            #expect(!socket.text.contains("AFTER2"))
        }
    }

    @Test("python3's REPL evaluates 6*7")
    func pythonREPL() async throws {
        try await TerminalTestHost.run { host in
            let found = try await SandboxClient(client: host.client, key: host.key).exec(host.sandbox, "command -v python3")
            // The default image is the host's /usr, and make test installs python3: a missing one
            // is a failure, not a skip that passes.
            try #require(found["exit_code"] as? Int == 0, "python3 is not in the sandbox's image")
            let socket = try await host.connect(try await host.openTerminal(["command": "python3"]))
            try await socket.waitFor(">>> ")
            try await socket.send("6*7\r")
            try await socket.waitFor("\r\n42\r\n")
            try await socket.send("exit(5)\r")
            #expect(try await socket.waitExit() == 5)
        }
    }

    @Test("a reconnect gets the scrollback; two clients see the same output; exit 3 reaches both and the terminal stays listed")
    func scrollbackSharingAndExit() async throws {
        try await TerminalTestHost.run { host in
            let terminal = try await host.openTerminal()
            let first = try await host.connect(terminal)
            try await first.send("echo SB$((6*7))\r")
            try await first.waitFor("SB42")
            await first.close()
            // A client that comes later gets the scrollback first (read by hand: see rawWebSocket).
            let repaint = try await host.rawWebSocket(terminal)
            #expect(repaint.hasPrefix("HTTP/1.1 101"), "\(repaint.prefix(200))")
            #expect(repaint.contains("SB42"), "\(repaint.suffix(300).debugDescription)")
            let second = try await host.connect(terminal)
            let third = try await host.connect(terminal)
            try await second.send("echo TWO$((1+1))\r")
            try await second.waitFor("TWO2")
            try await third.waitFor("TWO2")
            try await third.send("exit 3\r")
            #expect(try await second.waitExit() == 3)
            #expect(try await third.waitExit() == 3)
            try await waitUntil("both closed", timeout: .seconds(10)) { second.ended && third.ended }
            let listed = try await host.list().ptys
            #expect(listed.count == 1)
            #expect(listed.first?["running"] as? Bool == false, "\(listed)")
            // A client that comes after the exit still gets the last output, then the exit.
            let late = try await host.rawWebSocket(terminal)
            #expect(late.contains("TWO2"), "\(late.suffix(300).debugDescription)")
            #expect(late.contains(#"{"type":"exit","exit_code":3}"#), "\(late.suffix(300).debugDescription)")
        }
    }

    @Test("DELETE kills the terminal's processes, background ones included; its clients get the exit")
    func deleteKillsEverything() async throws {
        try await TerminalTestHost.run { host in
            let terminal = try await host.openTerminal()
            let socket = try await host.connect(terminal)
            try await socket.send("(setsid sleep 4242 &); sleep 4343 & echo BG$((1+1))\r")
            try await socket.waitFor("BG2")
            let sandboxes = SandboxClient(client: host.client, key: host.key)
            let scan = #"for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^sleep 4[23]4[23]' || true"#
            #expect(try await sandboxes.run(host.sandbox, scan).trimmingCharacters(in: .whitespacesAndNewlines) == "2")
            let (status, body) = try await host.delete(terminal)
            #expect(status == .ok, "\(body)")
            #expect(body["deleted"] as? Bool == true)
            #expect(try await socket.waitExit() == 137)
            try await waitUntil("no process of the terminal left", timeout: .seconds(10)) {
                try await sandboxes.run(host.sandbox, scan).trimmingCharacters(in: .whitespacesAndNewlines) == "0"
            }
            #expect(try await host.list().ptys.isEmpty)
            #expect(try await host.delete(terminal).status == .notFound)
        }
    }

    @Test("stopping the sandbox ends its terminals: clients get the exit, the terminal is listed not running")
    func sandboxStopEndsTerminals() async throws {
        try await TerminalTestHost.run { host in
            let terminal = try await host.openTerminal()
            let socket = try await host.connect(terminal)
            try await socket.send("echo UP$((1+1))\r")
            try await socket.waitFor("UP2")
            try await host.host.services.runtime.stop(host.sandbox)
            #expect(try await socket.waitExit() == 137)
            #expect(try await host.list().ptys.first?["running"] as? Bool == false)
            // A new terminal starts the sandbox again.
            let again = try await host.connect(try await host.openTerminal())
            try await again.send("echo AGAIN$((1+1))\r")
            try await again.waitFor("AGAIN2")
        }
    }

    @Test("another user's key gets 404 on every terminal route, the WebSocket included (before any upgrade); no key gets 401")
    func anotherUsersTerminal() async throws {
        try await TerminalTestHost.run { host in
            let terminal = try await host.openTerminal(["command": "sleep 60"])
            let other = try host.host.makeUser("mallory")
            #expect(try await host.open([:], key: other).status == .notFound)
            #expect(try await host.list(key: other).status == .notFound)
            #expect(try await host.delete(terminal, key: other).status == .notFound)
            let refused = try await host.upgradeAnswer(terminal, key: other)
            #expect(refused.hasPrefix("HTTP/1.1 404"), "\(refused)")
            #expect(refused.contains(#""code":"NOT_FOUND""#))
            #expect(!refused.contains("101"))
            // The owner's key, a terminal that does not exist: the same answer.
            #expect(try await host.upgradeAnswer("nosuchterminal", key: host.key).hasPrefix("HTTP/1.1 404"))
            let anonymous = try await host.upgradeAnswer(terminal, key: nil)
            #expect(anonymous.hasPrefix("HTTP/1.1 401"), "\(anonymous)")
            #expect(try await host.upgradeAnswer(terminal, key: nil, query: "?token=\(other)").hasPrefix("HTTP/1.1 404"))
            // The owner's key upgrades (101), and the terminal still runs.
            #expect(try await host.list().ptys.first?["running"] as? Bool == true)
            let socket = try await host.connect(terminal)
            #expect(!socket.ended)
        }
    }

    @Test("bad input: 422 for sizes out of 1…1000, an empty or over-long command, a bad env name; 400 for bad JSON")
    func badInput() async throws {
        try await TerminalTestHost.run { host in
            for body: [String: Any] in [
                ["cols": 0], ["rows": 1001], ["command": "  "], ["command": String(repeating: "x", count: 9000)],
                ["env": ["1BAD": "x"]], ["cwd": "relative"],
            ] {
                let (status, json) = try await host.open(body)
                #expect(status == .unprocessableContent, "\(body.keys): \(status) \(json)")
            }
            let status = try await host.client.execute(
                uri: "/api/sandboxes/\(host.sandbox)/pty", method: .post, headers: .bearer(host.key), body: ByteBuffer(string: "{not json")
            ) { $0.status }
            #expect(status == .badRequest)
            #expect(try await host.list().ptys.isEmpty)
        }
    }

    @Test("the terminal past SANDBOX_HOST_MAX_TERMINALS is refused with 409; deleting one makes room")
    func cap() async throws {
        try await TerminalTestHost.run { host in
            var terminals: [String] = []
            for _ in 0..<8 { terminals.append(try await host.openTerminal(["command": "sleep 60"])) }
            let (status, json) = try await host.open(["command": "sleep 60"])
            #expect(status == .conflict, "\(json)")
            #expect(json["code"] as? String == "CONFLICT")
            #expect(try await host.delete(terminals[0]).status == .ok)
            #expect(try await host.open(["command": "sleep 60"]).status == .created)
        }
    }

    @Test("a client that never reads is dropped while another keeps working")
    func slowClientDropped() async throws {
        try await TerminalTestHost.run { host in
            let terminal = try await host.openTerminal()
            let reader = try await host.connect(terminal)
            _ = try await host.connect(terminal, reading: false)
            let hub = try #require(await host.host.services.terminals.existing(for: host.sandbox)?.entry(terminal)?.hub)
            #expect(hub.clientCount == 2)
            // 20 MB: several times what the stalled client's socket buffers and queue can hold.
            try await reader.send("head -c 20000000 /dev/zero | tr '\\0' x; echo; echo DONE$((1+1))\r")
            try await reader.waitFor("DONE2", timeout: .seconds(45))
            #expect(reader.received > 20_000_000)
            #expect(hub.clientCount == 1)
            try await reader.send("echo STILL$((2+2))\r")
            try await reader.waitFor("STILL4")
        }
    }

    @Test("sandbox-host shell relays a terminal (under script(1), which gives it a TTY) and exits with the shell's code")
    func shellCommand() async throws {
        try await TerminalTestHost.run { host in
            let binary = HostProcess.binary
            try #require(
                FileManager.default.isExecutableFile(atPath: binary) && FileManager.default.isExecutableFile(atPath: "/usr/bin/script"),
                "needs the sandbox-host binary (make test builds it) and util-linux's script")
            let shell = "\(binary) shell sandbox --url http://127.0.0.1:\(host.port) --key \(host.key)"
            // Typed ahead: the keys wait in the terminal until bash reads them.
            let pipeline = #"printf 'echo CLI$((1+1))\rstty size\rexit 7\r' | script -qec "\#(shell)" /dev/null"#
            let (status, output) = try await DedicatedThread.run("shell command") { try Subprocess.run("/bin/sh", ["-c", pipeline]) }
            let text = String(decoding: output, as: UTF8.self)
            #expect(status == 7, "\(text.suffix(500))")
            #expect(text.contains("CLI2"), "\(text.suffix(500))")
            #expect(try await host.list().ptys.first?["running"] as? Bool == false)
        }
    }
}
