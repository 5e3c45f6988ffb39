import Foundation
import Logging
import Synchronization
import Testing
@testable import SandboxHost
@testable import SandboxNetwork
@testable import SandboxRuntime

/// The resolver's learning path in the `NetworkManager`: `allow` runs on one worker thread with a
/// bounded backlog, never on a `DedicatedThread` per answer.
@Suite struct SerialWorkerTests {
    @Test func jobsRunOneAtATimeOnOneThreadAndThePastBacklogIsRefused() async throws {
        let worker = SerialWorker(name: "test worker", backlog: 4, idle: 5)
        defer { worker.stop() }
        let gate = DispatchSemaphore(value: 0)
        let threads = Mutex<Set<String>>([])
        let record: @Sendable () -> Void = { threads.withLock { _ = $0.insert("\(pthread_self())") } }
        // The first job holds the thread; four more wait; the sixth is refused at once.
        let first = Task { try await worker.run { record(); gate.wait() } }
        try await waitUntil("the first job runs", timeout: .seconds(60)) { threads.withLock { !$0.isEmpty } }
        var waiting: [Task<Int, any Error>] = []
        for index in 0..<4 {
            waiting.append(Task { try await worker.run { record(); return index } })
        }
        try await waitUntil("four jobs wait", timeout: .seconds(60)) { worker.peakBacklog == 4 }
        await #expect(throws: NetworkError.self) { try await worker.run { record() } }
        gate.signal()
        try await first.value
        var results: [Int] = []
        for task in waiting { results.append(try await task.value) }
        #expect(results == [0, 1, 2, 3])
        #expect(threads.withLock { $0.count } == 1)
        #expect(worker.threadsStarted == 1)
    }

    @Test func anIdleWorkerEndsItsThreadAndTheNextJobStartsOne() async throws {
        let worker = SerialWorker(name: "test worker", backlog: 4, idle: 0.2)
        defer { worker.stop() }
        #expect(try await worker.run { 1 } == 1)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await worker.run { 2 } == 2)
        #expect(worker.threadsStarted == 2)
        worker.stop()
        await #expect(throws: NetworkError.self) { try await worker.run { 3 } }
    }
}

extension HeavySuites {
    @Suite(.enabled(if: runningAsRoot, "links need root, as in CI"))
    struct NetworkLearnTests {
        /// 48 answers learned at once for 3 sandboxes: the filter's `allow` runs one call at a
        /// time, on one thread (before: a `DedicatedThread` each, all waiting for nftables' lock,
        /// taking the threads sandbox starts and stops need).
        @Test(.timeLimit(.minutes(2))) func allowsRunOnOneWorkerThread() async throws {
            let host = try TestHost()
            defer { host.remove() }
            let filter = SlowAllowFilter(allowDelay: 0.01)
            let manager = try NetworkManager(
                configuration: NetworkTestBed.configuration(dataDir: host.directory, poolSize: 0), dataDir: host.directory,
                filter: filter, logger: Logger(label: "test"))
            try manager.start()
            defer { manager.stop() }
            let sandboxes = ["a", "b", "c"]
            for id in sandboxes { _ = try await manager.attach(sandboxID: id, policy: .open) }
            let address = AddressBlock(bytes: [198, 51, 100, 8], prefix: 32)!
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<48 {
                    group.addTask { try await manager.allow(sandboxID: sandboxes[index % 3], name: DNSName(text: "example.org")!, addresses: [address], ttlSeconds: 60) }
                }
                try await group.waitForAll()
            }
            #expect(filter.allowCalls == 48)
            #expect(filter.peakConcurrentAllows == 1)
            #expect(filter.allowThreads == 1)
            for id in sandboxes { await manager.detach(sandboxID: id) }
            try await waitUntil("links removed", timeout: .seconds(30)) { manager.removing == 0 }
        }
    }
}
