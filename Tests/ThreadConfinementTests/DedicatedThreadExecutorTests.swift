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

    @Test("blocking calls on four actors overlap and leave the cooperative pool free")
    func blockingDoesNotStallPool() async {
        let workers = (0..<4).map { BlockingWorker(name: "t-block-\($0)") }
        let start = ContinuousClock.now
        // A ticker on the cooperative pool: with the pool blocked it would barely run.
        let ticker = Task { () -> Int in
            var ticks = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
                ticks += 1
            }
            return ticks
        }
        await withTaskGroup(of: Bool.self) { group in
            for worker in workers {
                group.addTask { await worker.block(milliseconds: 600) }
            }
            for await onOwnThread in group {
                #expect(onOwnThread)
            }
        }
        let elapsed = ContinuousClock.now - start
        ticker.cancel()
        let ticks = await ticker.value
        #expect(elapsed < .milliseconds(1_200), "four 600 ms blocking calls should overlap, took \(elapsed)")
        #expect(ticks >= 10, "the cooperative pool was stalled: only \(ticks) ticks of 20 ms in \(elapsed)")
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
