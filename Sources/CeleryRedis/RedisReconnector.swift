import Logging
import Redis
import Synchronization

/// The one reconnect loop of the worker's long-lived Redis connections (the slots, the maintenance loop, the
/// Celery presence and the task events): open the connection(s), use them, and on an error close them, back
/// off with ``RedisReconnectPolicy`` and open them again. The first failure of a run of failures and the
/// restore are logged once each, every failure is counted in ``WorkerMetrics/connectionError(_:)``, and the loop
/// stops on cancellation or when the caller's `shouldStop` says so.
struct RedisReconnector: Sendable {
    /// Starts the log lines, e.g. `slot 2`, `maintenance`, `celery events`.
    let name: String
    let policy: RedisReconnectPolicy
    let logger: Logger
    let metrics: WorkerMetrics?
    /// The line logged when a connection is back after failures.
    let restoredLine: String

    /// The retry number the backoff stops growing at.
    static let maximumRetry = 20

    init(_ name: String, policy: RedisReconnectPolicy, logger: Logger, metrics: WorkerMetrics?, restoredLine: String? = nil) {
        self.name = name
        self.policy = policy
        self.logger = logger
        self.metrics = metrics
        self.restoredLine = restoredLine ?? "\(name): connected to Redis again"
    }

    /// One connection's life inside ``run(open:close:shouldStop:session:)``: the session calls ``connected()``
    /// once the connection proved healthy (e.g. a slot after its recovery); that ends the run of failures (the
    /// backoff starts over and the restore is logged, once).
    final class Attempt: Sendable {
        private let failures: Int
        private let logger: Logger
        private let restoredLine: String
        private let succeeded = Mutex(false)

        init(failures: Int, logger: Logger, restoredLine: String) {
            self.failures = failures
            self.logger = logger
            self.restoredLine = restoredLine
        }

        /// Marks the connection healthy; logs the restore after failures (the first call only).
        func connected() {
            let first = succeeded.withLock { succeeded -> Bool in
                defer { succeeded = true }
                return !succeeded
            }
            if first && failures > 0 { logger.info("\(restoredLine)") }
        }

        var isConnected: Bool { succeeded.withLock { $0 } }
    }

    /// Runs `session` on what `open` returns until it returns normally; after an error (from `open` or
    /// `session`) closes it with `close`, and unless `shouldStop(failures)` is true or the task is cancelled, backs
    /// off and starts again. Failures count from the last ``Attempt/connected()``. A `CancellationError` ends the
    /// loop without counting as a failure.
    /// - Parameters:
    ///   - shouldStop: asked after each failure with the number of consecutive failures so far.
    func run<Session>(
        open: () async throws -> Session,
        close: (Session) async -> Void,
        shouldStop: (_ failures: Int) -> Bool = { _ in false },
        session: (Session, Attempt) async throws -> Void
    ) async {
        var failures = 0
        while !Task.isCancelled {
            var opened: Session?
            let attempt = Attempt(failures: failures, logger: logger, restoredLine: restoredLine)
            do {
                let live = try await open()
                opened = live
                try await session(live, attempt)
                await close(live)
                return
            } catch {
                if let opened { await close(opened) }
                if error is CancellationError || Task.isCancelled { return }
                if attempt.isConnected { failures = 0 }
                failures += 1
                metrics?.connectionError(.redis)
                if failures == 1 { logger.warning("\(name): Redis error: \(error); reconnecting with backoff") }
                if shouldStop(failures) { return }
                try? await Task.sleep(for: policy.delay(forRetry: min(failures, Self.maximumRetry)))
            }
        }
    }

    /// Connects to `configuration`, retrying transient errors with backoff while `keepTrying()` is true.
    /// - Throws: a permanent ``RedisError`` at once (a wrong password, a bad database), the last transient one
    ///   once `keepTrying()` is false, or `CancellationError`.
    func connect(_ configuration: RedisConfiguration, keepTrying: () -> Bool) async throws -> RedisConnection {
        var failures = 0
        while true {
            do {
                return try await RedisConnection.connect(configuration)
            } catch let error as RedisError where error.isTransient {
                if !keepTrying() { throw error }
                failures += 1
                metrics?.connectionError(.redis)
                if failures == 1 { logger.error("cannot reach Redis at \(configuration): \(error); retrying") }
                try await Task.sleep(for: policy.delay(forRetry: min(failures, Self.maximumRetry)))
            }
        }
    }
}
