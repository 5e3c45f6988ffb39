@testable import Deploy
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 14 (follow-up), item 2: what git (or a hostile remote through it) prints is kept only up
/// to its last 64 KiB, and a run ends at its deadline even when something git started keeps the
/// output pipe open; the whole process group goes. The misbehaving "git" is an alias run by a
/// shell, as a remote helper or ssh would be.
@Suite struct GitRunnerTests {
    static func repository() throws -> (String, GitRunner) {
        let scratch = try TemporaryDirectory.make()
        let runner = GitRunner(gitDir: scratch + "/repo.git")
        #expect(try runner.run(["init", "--quiet", "--bare"]).status == 0)
        return (scratch, runner)
    }

    /// Processes whose command line contains `marker`.
    static func running(_ marker: String) -> Int {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { pid in
            guard pid.allSatisfy(\.isNumber), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(marker)
        }.count
    }

    @Test func outputIsCappedToItsLast64KiB() throws {
        let (scratch, runner) = try Self.repository()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let result = try runner.run(["flood"], config: [("alias.flood", "!yes flood | head -c 10000000; echo the-end")])
        #expect(result.status == 0)
        #expect(result.output.utf8.count <= 64 << 10, "kept \(result.output.utf8.count) bytes")
        #expect(result.output.hasSuffix("the-end\n"), "the tail is what is kept")
    }

    @Test func aChildHoldingThePipeDoesNotOutliveTheRun() throws {
        let (scratch, runner) = try Self.repository()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let marker = "31.\(Int.random(in: 100_000...999_999))"
        let started = ContinuousClock.now
        // git exits at once; the background sleep keeps the output pipe open.
        let result = try runner.run(["linger"], config: [("alias.linger", "!sleep \(marker) & echo started")])
        let took = ContinuousClock.now - started
        print("git with a lingering child answered in \(took)")
        #expect(result.status == 0)
        #expect(took < .seconds(10))
        #expect(pollUntil { Self.running(marker) == 0 }, "git's child is still running")
    }

    @Test func aRunPastItsDeadlineIsKilledWithItsWholeGroup() throws {
        var (scratch, runner) = try Self.repository()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        runner.timeout = .seconds(1)
        let marker = "32.\(Int.random(in: 100_000...999_999))"
        let started = ContinuousClock.now
        #expect(throws: DeployError.self) {
            try runner.run(["hang"], config: [("alias.hang", "!sleep \(marker); sleep \(marker)")])
        }
        let took = ContinuousClock.now - started
        print("a hanging git was stopped in \(took)")
        #expect(took < .seconds(5))
        #expect(pollUntil { Self.running(marker) == 0 }, "the process group was not killed")
    }
}
