import Testing
@testable import SandboxHost

/// File watching's parts without a host: the contract's coalescing on a clock the test drives
/// (one `modify` per file per 50 ms, the last write of a burst always followed by one), and a
/// client's bounded queue.
@Suite(.timeLimit(.minutes(1)))
struct WatchUnitTests {
    static let ms: UInt64 = 1_000_000

    @Test func aBurstGivesOneEventPerWindowAndTheLastWriteIsReported() {
        var coalescer = ModifyCoalescer<String>(windowNanoseconds: 50 * Self.ms)
        var reported: [UInt64] = []
        // 5,000 writes 10 µs apart (50 ms in all), the due check after each like the watcher's loop.
        var now: UInt64 = 1_000 * Self.ms
        for _ in 0..<5_000 {
            if coalescer.modified("f", now: now) { reported.append(now) }
            for _ in coalescer.due(now: now) { reported.append(now) }
            now += 10_000
        }
        let last = now - 10_000
        #expect(coalescer.nextDeadline != nil)
        let deadline = coalescer.nextDeadline ?? 0
        for _ in coalescer.due(now: deadline) { reported.append(deadline) }
        #expect(reported.count <= 3, "\(reported.count) events")
        #expect(reported.last ?? 0 >= last, "the last write is followed by an event")
        #expect(zip(reported, reported.dropFirst()).allSatisfy { $1 - $0 >= 50 * Self.ms })
        // Quiet: forgotten, and the next write is reported at once.
        #expect(coalescer.due(now: deadline + 100 * Self.ms).isEmpty)
        #expect(coalescer.isEmpty)
        let afterQuiet = coalescer.modified("f", now: deadline + 200 * Self.ms)
        #expect(afterQuiet)
    }

    @Test func aPendingWriteGoesBeforeADelete() {
        var coalescer = ModifyCoalescer<String>(windowNanoseconds: 50 * Self.ms)
        let first = coalescer.modified("f", now: 0), second = coalescer.modified("f", now: 1 * Self.ms)
        #expect(first && !second)
        let pending = coalescer.take("f"), again = coalescer.take("f")
        #expect(pending && !again)
    }

    @Test func pastItsCapacityWritesAreReportedUncoalesced() {
        var coalescer = ModifyCoalescer<Int>(windowNanoseconds: 50 * Self.ms, capacity: 2)
        let firsts = [coalescer.modified(1, now: 0), coalescer.modified(2, now: 0), coalescer.modified(3, now: 0)]
        #expect(firsts == [true, true, true])
        let untracked = coalescer.modified(3, now: 1), tracked = coalescer.modified(1, now: 1)
        #expect(untracked, "untracked: reported every time")
        #expect(!tracked)
    }

    @Test func temporaryUploadNames() {
        #expect(WatchEngine.isUploadTemporary(Array(".sbx-1f2e.tmp".utf8)))
        #expect(!WatchEngine.isUploadTemporary(Array("x.tmp".utf8)))
        #expect(!WatchEngine.isUploadTemporary(Array(".sbx-.tmp".utf8)))
    }

    @Test func aClientThatFallsBehindGetsOneOverflowAndTheNewerEvents() {
        let subscription = WatchSubscription(base: try! .init(""), recursive: true, all: false)
        for index in 0..<(WatchSubscription.maxEvents + 10) {
            subscription.push(WatchEvent(kind: .create, path: "/workspace/f\(index)", isDirectory: false))
        }
        let taken = subscription.take()
        #expect(taken.first == .overflow(.clientQueue))
        #expect(taken.count <= 11, "the queued events were dropped, the newer kept: \(taken.count)")
        #expect(taken.last?.path == "/workspace/f\(WatchSubscription.maxEvents + 9)")
        #expect(subscription.take().isEmpty)
        subscription.end()
        subscription.push(WatchEvent(kind: .create, path: "/workspace/late", isDirectory: false))
        #expect(subscription.take().isEmpty && subscription.isEnded)
    }
}
