import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import SandboxHost

/// What of the host's kernel a command inside a sandbox can reach (the system-call filter and
/// nested user namespaces) and what it can learn of the host (boot line, mount table, the host's
/// `/usr/local`), against a real sandbox.
///
/// `SANDBOX_HOST_INIT_PATH` in the test's environment picks the sandbox-init these run against
/// (e.g. one built from an older commit, to see these fail there).
@Suite(.enabled(if: runningAsRoot, "sandboxes need root, as in CI"))
struct KernelSurfaceTests {
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.filter { $0.key == "SANDBOX_HOST_INIT_PATH" }
    }

    @Test(.hostWithSandbox(environment: Self.environment)) func nestedUserNamespacesAndMountsAreRefused() async throws {
        let fixture = try HostFixture.current
        let sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let mount = try await sandboxes.exec(sandbox, "unshare -Urnm sh -c 'mount -t tmpfs x /mnt && echo mounted'")
        #expect(mount["exit_code"] as? Int != 0, "a nested user namespace mounted: \(mount["output"] ?? "")")
        #expect(!(mount["stdout"] as? String ?? "").contains("mounted"))
        for command in ["unshare -Urnm true", "unshare -U true", "unshare -n true"] {
            let result = try await sandboxes.exec(sandbox, command)
            #expect(result["exit_code"] as? Int != 0, "\(command) succeeded")
            #expect((result["stderr"] as? String ?? "").contains("Operation not permitted"), "\(command): \(result["output"] ?? "")")
        }
        _ = try await sandboxes.delete(sandbox)
    }

    /// Each call made directly (ctypes), with harmless arguments: EPERM from the filter before the
    /// kernel looks at them (without it: EINVAL/EFAULT, i.e. the kernel's code ran).
    static let probe = """
        import ctypes, os, platform
        libc = ctypes.CDLL(None, use_errno=True)
        numbers = {
            "x86_64": {"keyctl": 250, "add_key": 248, "bpf": 321, "io_uring_setup": 425, "userfaultfd": 323,
                       "perf_event_open": 298, "open_by_handle_at": 304, "setns": 308, "fsopen": 430, "clone3": 435,
                       "x32_getpid": 0x40000000 | 39},
            "aarch64": {"keyctl": 219, "add_key": 217, "bpf": 280, "io_uring_setup": 425, "userfaultfd": 282,
                        "perf_event_open": 241, "open_by_handle_at": 265, "setns": 268, "fsopen": 430, "clone3": 435},
        }[platform.machine()]
        for name, number in numbers.items():
            ctypes.set_errno(0)
            rc = libc.syscall(number, 0, 0, 0, 0, 0)
            print(name, rc, ctypes.get_errno())
        ctypes.set_errno(0)
        print("personality_read_implies_exec", libc.personality(0x0400000), ctypes.get_errno())
        print("personality_query", libc.personality(0xffffffff), 0)
        """

    @Test(.hostWithSandbox(environment: Self.environment)) func dangerousSystemCallsAnswerEPERM() async throws {
        let fixture = try HostFixture.current
        let sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let output = try await sandboxes.run(sandbox, "python3 - <<'EOF'\n\(Self.probe)\nEOF")
        var results: [String: (rc: Int, errno: Int32)] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let rc = Int(fields[1]), let code = Int32(fields[2]) else { continue }
            results[String(fields[0])] = (rc, code)
        }
        let denied = ["keyctl", "add_key", "bpf", "io_uring_setup", "userfaultfd", "perf_event_open", "open_by_handle_at",
                      "setns", "fsopen", "personality_read_implies_exec"]
        for name in denied + (results["x32_getpid"] != nil ? ["x32_getpid"] : []) {
            let result = results[name]
            #expect(result?.rc == -1 && result?.errno == EPERM, "\(name): \(String(describing: result))\n\(output)")
        }
        // clone3 is ENOSYS (as under Docker): libc falls back to clone, whose flags the filter reads.
        #expect(results["clone3"]?.rc == -1 && results["clone3"]?.errno == ENOSYS, "\(output)")
        #expect(results["personality_query"].map { $0.rc >= 0 } == true, "\(output)")
        _ = try await sandboxes.delete(sandbox)
    }

    /// What the filter must not break: runtimes, threads, compilers, package managers.
    @Test(.hostWithSandbox(environment: Self.environment)) func everydayToolsStillWork() async throws {
        let fixture = try HostFixture.current
        let sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        let python = try await sandboxes.run(sandbox, """
            python3 -c "import threading, subprocess; t = threading.Thread(target=print, args=('thread',)); t.start(); t.join(); print(subprocess.run(['echo', 'child'], capture_output=True).stdout.decode().strip())"
            """)
        #expect(python == "thread\nchild\n")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/node") {
            let node = try await sandboxes.run(sandbox, """
                node -e 'const { Worker } = require("worker_threads"); new Worker("require(\\"worker_threads\\").parentPort.postMessage(6 * 7)", { eval: true }).on("message", (m) => console.log(m))'
                """)
            #expect(node == "42\n")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/npm") {
            let npm = try await sandboxes.exec(sandbox, "npm --version && cd /workspace && npm init -y >/dev/null && cat package.json")
            #expect(npm["exit_code"] as? Int == 0, "\(npm["output"] ?? "")")
            #expect((npm["stdout"] as? String ?? "").contains("\"name\""))
        }
        let git = try await sandboxes.run(sandbox, """
            cd /workspace && git init -q repo && cd repo && echo hi > a && git add a && git -c user.name=t -c user.email=t@t commit -qm first && git log --format=%s
            """)
        #expect(git == "first\n")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/cc") {
            let compiled = try await sandboxes.run(sandbox, """
                cd /tmp && printf '#include <stdio.h>\\nint main(void) { puts("compiled"); return 0; }\\n' > hello.c && cc hello.c && ./a.out
                """)
            #expect(compiled == "compiled\n")
        }
        // gdb and strace work through ptrace, which stays allowed (the PID namespace bounds it).
        let traced = try await sandboxes.run(sandbox, """
            python3 -c "import ctypes, subprocess; p = subprocess.Popen(['sleep', '5']); print(ctypes.CDLL(None).ptrace(16, p.pid, 0, 0)); p.kill()"
            """)
        #expect(traced == "0\n", "PTRACE_ATTACH to a child")
        _ = try await sandboxes.delete(sandbox)
    }

    @Test(.hostWithSandbox(environment: Self.environment)) func hostBootLineMountPathsAndUsrLocalAreHidden() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, sandboxes = fixture.sandboxes
        let sandbox = fixture.sandbox
        #expect(try await sandboxes.run(sandbox, "cat /proc/cmdline") == "")
        for path in ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/interrupts"] {
            let size = try await sandboxes.run(sandbox, "if [ -e \(path) ]; then head -c 64 \(path) | wc -c; else echo 0; fi")
            #expect(size == "0\n", "\(path) is readable")
        }
        for path in ["/proc/scsi", "/proc/acpi", "/sys/firmware"] {
            let listing = try await sandboxes.run(sandbox, "ls -A \(path) 2>/dev/null || true")
            #expect(listing == "", "\(path): \(listing)")
        }
        // The overlay layers are named relative to the sandbox's directory on the host.
        let mounts = try await sandboxes.run(sandbox, "cat /proc/self/mountinfo")
        #expect(!mounts.contains(host.directory + "/sandboxes"), "\(mounts)")
        #expect(!mounts.contains("dir=/"), "an absolute overlay layer: \(mounts)")
        // The default image's /usr/local is the sandbox's own, empty, and writable.
        let local = try await sandboxes.run(sandbox, "find /usr/local -mindepth 1 | head -n 20")
        #expect(local == "", "the host's /usr/local shows through: \(local)")
        #expect(try await sandboxes.run(sandbox, "mkdir -p /usr/local/bin && touch /usr/local/bin/mine && ls /usr/local/bin") == "mine\n")
        _ = try await sandboxes.delete(sandbox)
    }

    /// sandbox-init makes the upper layer's `usr/local` an opaque directory as host root, before
    /// the overlay is mounted: a link the tenant left there is replaced, never followed to the host.
    @Test(.hostWithSandbox(environment: Self.environment)) func aLinkPlantedAtUsrLocalIsReplacedNotFollowed() async throws {
        let fixture = try HostFixture.current
        let host = fixture.host, sandboxes = fixture.sandboxes
        let project = fixture.project, sandbox = fixture.sandbox
        let canary = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: canary) }
        _ = try await sandboxes.run(sandbox, "rm -rf /usr/local && ln -s '\(canary)' /usr/local && readlink /usr/local")
        try await host.services.runtime.stop(sandbox)
        #expect(try await sandboxes.ensureActive(project) == sandbox)
        #expect(try await sandboxes.run(sandbox, "[ -d /usr/local ] && [ ! -L /usr/local ] && ls -A /usr/local && echo dir") == "dir\n")
        let xattr = try Subprocess.run("/usr/bin/python3", ["-c", "import os, sys; os.getxattr(sys.argv[1], 'trusted.overlay.opaque')", canary])
        #expect(xattr.status != 0, "the link was followed to the host")
        #expect(String(decoding: xattr.output, as: UTF8.self).contains("No data available"), "\(String(decoding: xattr.output, as: UTF8.self))")
        _ = try await sandboxes.delete(sandbox)
    }
}
