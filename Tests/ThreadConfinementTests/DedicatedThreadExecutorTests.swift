import Foundation
import Testing
import ThreadConfinement

/// An actor that blocks its thread the way a hiredis/libpq call does.
private actor BlockingWorker {
    let executor: DedicatedThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(name: String) { executor = DedicatedThreadExecutor(name: name) }
    deinit { executor.shutdown() }

    func block(milliseconds: UInt32) -> Bool {
        usleep(milliseconds * 1000)  // a blocking C call
        return executor.isCurrentThread
    }

    /// Blocks like a C call and reports when it really ran, measured on the executing thread.
    func timedBlock(milliseconds: UInt32) -> (start: ContinuousClock.Instant, end: ContinuousClock.Instant, onOwnThread: Bool) {
        let start = ContinuousClock.now
        usleep(milliseconds * 1000)
        return (start, ContinuousClock.now, executor.isCurrentThread)
    }

    var counter = 0
    func increment() -> Int {
        counter += 1
        return counter
    }
}

@Suite("DedicatedThreadExecutor")
struct DedicatedThreadExecutorTests {
    @Test("isolated methods run on the dedicated thread, not the test's thread")
    func runsOnOwnThread() async {
        let worker = BlockingWorker(name: "t-own")
        #expect(await worker.block(milliseconds: 1))
        #expect(!worker.executor.isCurrentThread)
    }

    @Test("blocking calls on four actors overlap, so none runs on the cooperative pool")
    func blockingDoesNotStallPool() async {
        let workers = (0..<4).map { BlockingWorker(name: "t-block-\($0)") }
        let intervals = await withTaskGroup(of: (start: ContinuousClock.Instant, end: ContinuousClock.Instant, onOwnThread: Bool).self) { group in
            for worker in workers {
                group.addTask { await worker.timedBlock(milliseconds: 1_000) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(intervals.allSatisfy { $0.onOwnThread })
        // All four were blocked at the same moment (measured on the blocked threads themselves): the
        // cooperative pool has one thread per core (2 here), so four simultaneous blocking calls cannot
        // be on it. (A ticker on the pool is not a reliable witness in a parallel test run: other suites
        // may keep the pool busy.)
        let latestStart = intervals.map(\.start).max()!, earliestEnd = intervals.map(\.end).min()!
        #expect(latestStart < earliestEnd, "the four blocking calls ran one after another")
    }

    @Test("jobs on one executor run serially and none is lost")
    func serialAndComplete() async {
        let worker = BlockingWorker(name: "t-serial")
        let results = await withTaskGroup(of: Int.self, returning: [Int].self) { group in
            for _ in 0..<1_000 {
                group.addTask { await worker.increment() }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == Array(1...1_000))
    }
}
