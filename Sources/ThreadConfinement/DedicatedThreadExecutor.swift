#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A serial executor that runs every job on one dedicated OS thread, never on Swift's cooperative pool.
///
/// oauthq talks to Redis and PostgreSQL through blocking C libraries (hiredis, libpq). A blocking call on
/// the cooperative pool (one thread per core) stalls every other task, timers and signal handling
/// included. Each connection is therefore an actor whose `unownedExecutor` is one of these executors:
/// every C call sits in an isolated method, so it runs on the connection's own thread, and Swift 6's
/// isolation checking guarantees the handle is never touched from two threads.
///
/// The thread keeps the executor alive until ``shutdown()``: the owner (usually an actor's `deinit`)
/// must call it once no more jobs can be enqueued. Jobs already queued still run before the thread ends.
public final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs`, `isShuttingDown` and `owner` are only read or written with
    // `condition` locked; `name` is immutable.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var isShuttingDown = false
    private var owner: pthread_t?

    /// The name given to the thread (visible in debuggers and `/proc/<pid>/task/*/comm`).
    public let name: String

    /// Starts the thread.
    /// - Parameter name: the thread's name, e.g. `"redis-1"`.
    public init(name: String) {
        self.name = name
        let started = DispatchSemaphore(value: 0)
        // The closure holds `self` strongly: the executor lives as long as its thread.
        let thread = Thread { [self] in
            self.condition.lock()
            self.owner = pthread_self()
            self.condition.unlock()
            started.signal()
            self.runLoop()
        }
        thread.name = String(name.prefix(15))
        thread.start()
        started.wait()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(isCurrentThread, "not on the dedicated thread of executor \(name)")
    }

    /// True when called on this executor's thread.
    public var isCurrentThread: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let owner else { return false }
        return pthread_equal(owner, pthread_self()) != 0
    }

    /// Lets the thread finish the jobs already queued and then exit.
    public func shutdown() {
        condition.lock()
        isShuttingDown = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty && !isShuttingDown {
                condition.wait()
            }
            if jobs.isEmpty {  // shutting down and drained
                condition.unlock()
                return
            }
            swap(&batch, &jobs)
            condition.unlock()
            let executor = asUnownedSerialExecutor()
            for job in batch {
                job.runSynchronously(on: executor)
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
