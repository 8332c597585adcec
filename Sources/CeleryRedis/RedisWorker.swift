import CivilCalendar
import Foundation
import CeleryProtocol
public import Logging
import Redis
public import ServiceLifecycle
import Synchronization
public import UnixSignals

/// A Celery-compatible worker process on ``RedisBroker``: `concurrency` slots, each with its own Redis
/// connection(s) (actors on dedicated threads), plus the long-running loops (``WorkerMaintenance``,
/// ``CeleryPresence``, the task-event publisher) as services of one `ServiceGroup`.
///
/// A message's path: a slot fetches a batch (``WorkerSlots``, `RedisBroker+Settle.swift`'s `cycle`), decides
/// what to do with each message (``TaskTriage``), runs it (``TaskRunner``), maps the outcome to a settlement
/// (``TaskSettlementRules``) and settles it with the next fetch. Transient failures are retried with
/// ``RetryPolicy`` (a new message with the same id and `retries + 1`, parked until its ETA; `RETRY` stored).
///
/// Shutdown: ``requestShutdown()`` once (or the group's graceful shutdown: SIGTERM/SIGINT with
/// ``run(gracefulShutdownSignals:alongside:)``) stops fetching and lets running tasks finish for
/// ``Configuration/shutdownTimeout``; after that, or on a second request (signal), running tasks are cancelled and
/// their messages returned to their queues (redelivered). The other services then stop in reverse order: task
/// events, presence (`worker-offline`), maintenance (last heartbeat, deregistration); ``run(gracefulShutdownSignals:alongside:)``
/// returns.
public final class RedisWorker: Sendable {
    enum Phase: Sendable { case running, draining, aborting }

    struct State: Sendable {
        var phase = Phase.running
        var shutdownRequests = 0
        var done = 0
        var failed = 0
        var slotsFinished = false
        /// Whether the service group runs its services (and so acts on the first signal itself).
        var servicesRunning = false
        /// Whether a slot runs a suspect message (one a worker died holding before) right now.
        var suspectRunning = false
    }

    /// The settings.
    public let configuration: Configuration
    /// The broker model (keys, scripts).
    public let broker: RedisBroker
    let handlers: [String: JobHandler]
    let triage: TaskTriage
    let rules: TaskSettlementRules
    let runner = TaskRunner()
    let logger: Logger
    let state = Mutex(State())
    /// The worker's metrics (swift-metrics; no-ops unless the process bootstrapped a backend).
    public let metrics: WorkerMetrics
    let started = Date()
    /// Revoked task ids, shared through Redis (see ``RevokedSet``).
    public let revoked: RevokedSet
    /// Which queues the slots take from now (see ``QueuePauses``).
    public let pauses: QueuePauses
    /// Celery task events (see ``TaskEventEmitter``).
    public let taskEvents: TaskEventEmitter
    let activeTasks = ActiveTasks()
    /// For `/healthz` (see ``WorkerHealth``).
    public let health: WorkerHealth

    /// - Parameters:
    ///   - configuration: the settings.
    ///   - handlers: the tasks by name.
    ///   - logger: receives one line per task and connection events; never task arguments.
    ///   - metrics: where task outcomes are counted (default: a new one for the registered tasks).
    public init(configuration: Configuration, handlers: [String: JobHandler], logger: Logger, metrics: WorkerMetrics? = nil) {
        var configuration = configuration
        configuration.concurrency = max(1, configuration.concurrency)
        configuration.fetchBatch = max(1, configuration.fetchBatch)
        if configuration.queues.isEmpty { configuration.queues = [CeleryQueue.defaultQueue] }
        self.configuration = configuration
        var broker = RedisBroker(
            keyPrefix: configuration.keyPrefix,
            concurrency: configuration.concurrency,
            resultExpires: configuration.resultExpires,
            heartbeatTTL: configuration.heartbeatTTL
        )
        broker.maximumMessageBytes = configuration.limits.maximumMessageBytes
        self.broker = broker
        self.handlers = handlers
        self.triage = TaskTriage(
            registry: .init(tasks: Set(handlers.keys), aliases: configuration.aliases), limits: configuration.limits,
            defaultTimeLimit: configuration.defaultTimeLimit, maximumWorkerLosses: configuration.maximumWorkerLosses,
            workerName: configuration.name
        )
        self.rules = TaskSettlementRules(
            retryPolicy: configuration.retryPolicy, successResultExpires: configuration.successResultExpires,
            workerName: configuration.name
        )
        self.logger = logger
        self.metrics = metrics ?? WorkerMetrics(knownTasks: handlers.keys)
        self.revoked = RevokedSet(keyPrefix: configuration.keyPrefix)
        self.health = WorkerHealth(heartbeatTTL: configuration.heartbeatTTL, slots: configuration.concurrency)
        self.pauses = QueuePauses(keyPrefix: configuration.keyPrefix)
        self.taskEvents = TaskEventEmitter(
            hostname: configuration.name, database: configuration.broker.database, enabled: configuration.taskEvents
        )
    }

    // MARK: - Control

    /// First call: stop fetching and drain (bounded by ``Configuration/shutdownTimeout``). Second call: abort
    /// running tasks and return their messages at once. Safe from any thread.
    public func requestShutdown() {
        let requests = state.withLock { state -> Int in
            state.shutdownRequests += 1
            if state.phase == .running { state.phase = .draining }
            return state.shutdownRequests
        }
        health.stopping()
        if requests == 1 {
            logger.info("warm shutdown: no new tasks; waiting up to \(configuration.shutdownTimeout.seconds) s for running ones")
            let timeout = configuration.shutdownTimeout
            Task { [self] in
                try? await Task.sleep(for: timeout)
                if !state.withLock({ $0.slotsFinished }) {
                    logger.warning("shutdown timeout: cancelling running tasks and returning them to their queues")
                    abort()
                }
            }
        } else if requests == 2 {
            abortNow()
        }
    }

    /// The service group's graceful shutdown: a first ``requestShutdown()``, unless one was made already.
    func warmShutdown() {
        let first = state.withLock { $0.shutdownRequests == 0 }
        if first { requestShutdown() }
    }

    /// Like a second ``requestShutdown()``: cancels running tasks and returns their messages at once.
    func abortNow() {
        let first = state.withLock { state -> Bool in
            defer { state.shutdownRequests = max(state.shutdownRequests, 2) }
            return state.phase != .aborting
        }
        health.stopping()
        if first { logger.warning("second signal: cancelling running tasks and returning them to their queues") }
        abort()
    }

    private func abort() {
        state.withLock { $0.phase = .aborting }
        runner.abort()
    }

    var phase: Phase { state.withLock { $0.phase } }

    /// Tasks done and failed so far.
    public var counts: (done: Int, failed: Int) { state.withLock { ($0.done, $0.failed) } }

    /// Cancels the running task `taskID` as revoked, through the time limits' path (the handler's task is
    /// cancelled; a running SQL statement gets a cancel request); returns whether it runs here.
    public func terminate(taskID: String) -> Bool {
        guard let slot = activeTasks.slot(of: taskID) else { return false }
        return runner.terminate(slot: slot)
    }

    // MARK: - Running

    /// Registers the worker, runs the slots and the other services until shutdown, then deregisters.
    /// - Parameters:
    ///   - gracefulShutdownSignals: signals that start a warm shutdown (the first) and abort it (any later one).
    ///   - alongside: more services to run in the group (e.g. a metrics endpoint), started first and stopped last.
    /// - Throws: a permanent ``RedisError`` at start (a wrong password, a bad database); transient errors are
    ///   retried with backoff for as long as the worker runs.
    public func run(gracefulShutdownSignals: [UnixSignal] = [], alongside: [any Service] = []) async throws {
        // The group acts on the first signal once its services run; before that (while connecting) a signal is a
        // shutdown request. Any later signal aborts the drain.
        let repeated: Task<Void, Never>?
        if gracefulShutdownSignals.isEmpty {
            repeated = nil
        } else {
            let signals = await UnixSignalsSequence(trapping: gracefulShutdownSignals)
            repeated = Task { [self] in
                var received = 0
                for await _ in signals {
                    received += 1
                    if received >= 2 {
                        abortNow()
                    } else if !state.withLock({ $0.servicesRunning }) {
                        requestShutdown()
                    }
                }
            }
        }
        defer { repeated?.cancel() }

        let maintenance = try await start()
        var services = alongside.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        services.append(.init(service: WorkerMaintenance(worker: self, connection: maintenance), serviceName: "maintenance"))
        if configuration.celeryEvents {
            services.append(.init(service: presence(), serviceName: "celery presence"))
            services.append(
                .init(
                    service: TaskEventPublisher(emitter: taskEvents, reconnector: reconnector("task events"), broker: configuration.broker),
                    serviceName: "task events"
                )
            )
        }
        // Last: the first to be told to shut down; when it ends by itself (requestShutdown), the rest follow.
        services.append(.init(service: WorkerSlots(worker: self), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "slots"))

        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger)
        )
        try await group.run()
    }

    /// Connects, loads the scripts, writes the first heartbeat, reads the shared revoked set and pauses, and
    /// returns dead workers' messages. Returns the maintenance connection.
    private func start() async throws -> RedisConnection {
        let maintenance = try await reconnector("maintenance", restoredLine: "maintenance connection to Redis restored")
            .connect(configuration.broker) { [self] in phase == .running }
        try await broker.loadScripts(on: maintenance)
        try await broker.heartbeat(info(), on: maintenance)
        health.heartbeatWritten()
        try await revoked.refresh(on: maintenance)
        try await pauses.refresh(on: maintenance)
        let reaped = try await broker.reapDeadWorkers(on: maintenance, workerName: configuration.name)
        if reaped > 0 { logger.warning("returned \(reaped) message(s) of dead workers to their queues") }
        logger.info(
            "worker \(configuration.name) (id \(broker.workerID)) ready: queues \(configuration.queues.joined(separator: ",")), concurrency \(configuration.concurrency), prefix \(configuration.keyPrefix)"
        )
        return maintenance
    }

    /// The reconnect loop for one of this worker's connections.
    func reconnector(_ name: String, restoredLine: String? = nil) -> RedisReconnector {
        RedisReconnector(name, policy: configuration.reconnectPolicy, logger: logger, metrics: metrics, restoredLine: restoredLine)
    }

    private func presence() -> CeleryPresence {
        CeleryPresence(
            broker: configuration.broker, hostname: configuration.name, frequency: configuration.eventFrequency,
            softwareVersion: configuration.softwareVersion, reconnector: reconnector("celery events"),
            counts: { [self] in
                (runner.runningCount, state.withLock { $0.done + $0.failed })
            },
            logger: logger, control: control()
        )
    }

    /// The remote-control handler lent to ``CeleryPresence``.
    private func control() -> WorkerControl {
        WorkerControl(
            context: .init(
                hostname: configuration.name, keyPrefix: configuration.keyPrefix, queues: configuration.queues,
                concurrency: configuration.concurrency, prefetch: configuration.fetchBatch, registered: Array(handlers.keys),
                broker: configuration.broker, softwareVersion: configuration.softwareVersion, started: started,
                revokeTTL: configuration.revokeTTL, processingKeys: (0..<configuration.concurrency).map { broker.processingKey(slot: $0) },
                delayedKey: broker.keys.delayed, redisBroker: broker, resultsOnBroker: configuration.backend == nil, revoked: revoked,
                pauses: pauses, active: activeTasks, events: taskEvents,
                terminate: { [self] in terminate(taskID: $0) }, shutdown: { [self] in requestShutdown() }
            ),
            logger: logger
        )
    }

    func info() -> RedisWorkerInfo {
        let (done, failed) = counts
        return RedisWorkerInfo(
            name: configuration.name, started: started, queues: configuration.queues,
            concurrency: configuration.concurrency, done: done, failed: failed, notice: configuration.notice?.current
        )
    }

    // MARK: - Reporting

    /// Logs a task's line (name, id, state, duration; never arguments) and counts done and failed tasks.
    func report(_ report: TaskReport) {
        metrics.taskFinished(report.name, state: report.state, runtime: report.runtime)
        if let reason = report.deadLetter { metrics.deadLettered(reason) }
        if let failed = report.failed {
            state.withLock { state in
                if failed { state.failed += 1 } else { state.done += 1 }
            }
        }
        let level: Logger.Level = report.failed == true ? .warning : .info
        // Formatted only when the level is enabled.
        if configuration.taskLogMetadata {
            logger.log(level: level, "\(report.line())", metadata: report.metadata())
        } else {
            logger.log(level: level, "\(report.line())")
        }
    }

}
