import Foundation

/// Runs `git` with a fixed, quiet environment: no prompts, no system or user configuration, no
/// pager, a deadline. Blocking; call it off the event loop.
struct GitRunner: Sendable {
    let gitDir: String
    var timeout: Duration = .seconds(120)

    struct Result {
        let status: Int32
        let output: String
    }

    func run(_ arguments: [String], workTree: String? = nil, environment extra: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        var prefix = ["--git-dir=\(gitDir)", "-c", "safe.directory=*", "-c", "core.hooksPath=/dev/null"]
        if let workTree { prefix.append("--work-tree=\(workTree)") }
        process.arguments = prefix + arguments
        process.environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": gitDir, "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_PAGER": "cat", "LC_ALL": "C",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=15",
        ].merging(extra) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw DeployError("git is not installed on the host", cause: error)
        }
        let output = Output()
        let finished = DispatchSemaphore(value: 0)
        let reader = Thread {
            output.data = pipe.fileHandleForReading.readDataToEndOfFile()
            finished.signal()
        }
        reader.start()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                process.waitUntilExit()
                throw DeployError("git \(arguments.first ?? "") took longer than \(timeout)")
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        finished.wait()
        return Result(status: process.terminationStatus, output: String(decoding: output.data, as: UTF8.self))
    }

    /// Written by the reader thread before it signals, read after the wait.
    private final class Output: @unchecked Sendable {
        var data = Data()
    }
}
