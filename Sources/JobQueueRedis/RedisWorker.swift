import Foundation
public import JobQueue
public import Logging
public import Redis
import Synchronization

/// A Celery-compatible worker process on ``RedisBroker``: `concurrency` slots, each with its own Redis
/// connection(s) (actors on dedicated threads), plus one maintenance connection for the heartbeat, the
/// reaper and the delayed-set promoter.
///
/// Per message a slot: decodes it (a poison message is dead-lettered, with a `FAILURE` result when its id is
/// readable), resolves the task name through the aliases (unknown: dead letter + `NotRegistered`), revokes
/// it when past `expires`, parks it in the delayed set when its `eta` is ahead, skips it when it is a
/// redelivery of a task whose `SUCCESS` is stored, else runs the handler under the time limits, then
/// settles it in one script. Transient failures are retried with ``RetryPolicy`` (a new message with the
/// same id and `retries + 1`, parked until its ETA; `RETRY` stored).
///
/// Shutdown: ``requestShutdown()`` once stops fetching and lets running tasks finish for
/// ``Configuration/shutdownTimeout``; after that, or on a second call, running tasks are cancelled and their
/// messages returned to their queues (redelivered). ``run()`` then deregisters and returns.
public final class RedisWorker: Sendable {
    /// Worker settings.
    public struct Configuration: Sendable {
        /// The broker.
        public var broker: RedisConfiguration
        /// The result backend when it differs from the broker (another server or database); nil: the broker.
        public var backend: RedisConfiguration?
        /// The prefix of oauthq's keys.
        public var keyPrefix: String = "oauthq"
        /// The queues to consume, in order.
        public var queues: [String] = [CeleryQueue.defaultQueue]
        /// Slots: tasks run at once.
        public var concurrency: Int = 1
        /// The node name (`oauthq@host`), shown in the worker hash, dead letters and `STARTED`-like fields.
        public var name: String = "oauthq@" + (ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost")
        /// Seconds results are kept (Celery's `result_expires`); 0: forever.
        public var resultExpires: Int = 86_400
        /// How long a first shutdown request lets running tasks finish.
        public var shutdownTimeout: Duration = .seconds(30)
        /// Retries of transient failures.
        public var retryPolicy = RetryPolicy()
        /// Task name aliases: `alias → registered name`.
        public var aliases: [String: String] = [:]
        /// Worker-wide time limits, used when a message sets none (`headers.timelimit` wins).
        public var defaultTimeLimit = CeleryMessage.TimeLimit.none
        /// How many messages a slot takes from its queues at once (all into its processing list). Finished tasks
        /// are settled together with the next fetch; as soon as a task blocks, the unstarted rest is returned.
        public var fetchBatch: Int = 16
        /// How long an idle slot blocks in `BLMOVE` before polling every list again.
        public var blockTimeout: Duration = .milliseconds(100)
        /// The heartbeat key's TTL.
        public var heartbeatTTL: Duration = .seconds(5)
        /// How often the heartbeat is refreshed and dead workers are reaped.
        public var heartbeatInterval: Duration = .seconds(1)
        /// How often due delayed messages are promoted.
        public var promoteInterval: Duration = .milliseconds(200)
        /// Backoff between reconnect attempts.
        public var reconnectPolicy = RedisReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(5))
        /// Whether the worker shows itself to Celery's tools: worker events (online, heartbeat, offline) and
        /// answers to remote-control `ping` (see ``CeleryPresence``).
        public var celeryEvents = true
        /// Seconds between Celery `worker-heartbeat` events (Celery: 2).
        public var eventFrequency: Duration = .seconds(2)
        /// Whether task lines carry their fields as log metadata too (`task`, `task_id`, `state`, `duration_ms`,
        /// `note`), for structured (JSON) logs.
        public var taskLogMetadata = false
        /// `sw_ver` in the worker events.
        public var softwareVersion = "0.1.0"
        /// How often `oauthq_queue_depth` is sampled (`LLEN` of every priority list of every consumed queue, on the
        /// maintenance connection); nil: never (metrics off).
        public var queueDepthInterval: Duration?
        /// A notice the worker publishes in its hash with every heartbeat (shown by `oauthq status`); nil: none.
        public var notice: WorkerNotice?
        /// The bounds every number of a message is held to, and the message size cap.
        public var limits = MessageLimits()
        /// After how many worker deaths while holding it a message is dead-lettered as `WorkerLost` (a poison
        /// pill); 0: never.
        public var maximumWorkerLosses = 3
        /// The most dead letters kept (the oldest beyond it are dropped); 0: no count limit.
        public var deadLetterMaximumCount = 10_000
        /// The oldest dead letter kept; nil: no age limit.
        public var deadLetterMaximumAge: Duration? = .seconds(7 * 86_400)
        /// Shorter result lifetimes for some tasks' `SUCCESS` results, in seconds (e.g. a result that carries a
        /// generated client secret): `task name → seconds`; the shorter of this and ``resultExpires`` applies.
        public var successResultExpires: [String: Int] = [:]
        /// Whether task events are sent from the start (`-E`); `enable_events`/`disable_events` switch them later.
        public var taskEvents = false
        /// How long a revoke made through this worker lasts (Celery: until the worker stops).
        public var revokeTTL: Duration = RevokedSet.defaultTTL

        public init(broker: RedisConfiguration, backend: RedisConfiguration? = nil) {
            self.broker = broker
            self.backend = backend
        }
    }

    private enum Phase: Sendable { case running, draining, aborting }

    /// Why a running handler was cancelled.
    private enum CancelReason: Sendable {
        case shutdown
        case softTimeLimit(Double)
        case hardTimeLimit(Double)
        /// `revoke(terminate=True)` / `oauthq revoke --terminate`.
        case revoked
    }

    private struct State: Sendable {
        var phase = Phase.running
        var shutdownRequests = 0
        var cancellers: [Int: @Sendable () -> Void] = [:]
        var reasons: [Int: CancelReason] = [:]
        var done = 0
        var failed = 0
        var slotsFinished = false
        /// Whether a slot runs a suspect message (one a worker died holding before) right now.
        var suspectRunning = false
    }

    /// The settings.
    public let configuration: Configuration
    /// The broker model (keys, scripts).
    public let broker: RedisBroker
    private let handlers: [String: JobHandler]
    private let triage: TaskTriage
    private let logger: Logger
    private let state = Mutex(State())
    /// The worker's metrics (swift-metrics; no-ops unless the process bootstrapped a backend).
    public let metrics: WorkerMetrics
    private let started = Date()
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
    /// running tasks and return their messages at once. Safe from any thread (e.g. a signal source).
    public func requestShutdown() {
        let requests = state.withLock { state -> Int in
            state.shutdownRequests += 1
            if state.phase == .running { state.phase = .draining }
            return state.shutdownRequests
        }
        health.stopping()
        if requests == 1 {
            logger.info("warm shutdown: no new tasks; waiting up to \(Self.seconds(configuration.shutdownTimeout)) s for running ones")
            let timeout = configuration.shutdownTimeout
            Task { [self] in
                try? await Task.sleep(for: timeout)
                if !state.withLock({ $0.slotsFinished }) {
                    logger.warning("shutdown timeout: cancelling running tasks and returning them to their queues")
                    abort()
                }
            }
        } else if requests == 2 {
            logger.warning("second signal: cancelling running tasks and returning them to their queues")
            abort()
        }
    }

    private func abort() {
        let cancellers = state.withLock { state -> [@Sendable () -> Void] in
            state.phase = .aborting
            for slot in state.cancellers.keys where state.reasons[slot] == nil {
                state.reasons[slot] = .shutdown
            }
            return Array(state.cancellers.values)
        }
        cancellers.forEach { $0() }
    }

    private var phase: Phase { state.withLock { $0.phase } }

    /// Tasks done and failed so far.
    public var counts: (done: Int, failed: Int) { state.withLock { ($0.done, $0.failed) } }

    // MARK: - Running

    /// Registers the worker, runs the slots and the maintenance loop until shutdown, then deregisters.
    /// - Throws: a permanent ``RedisError`` at start (a wrong password, a bad database); transient errors are
    ///   retried with backoff for as long as the worker runs.
    public func run() async throws {
        let maintenance = try await connectAtStart()
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

        let maintenanceTask = Task { await self.maintain(initial: maintenance) }
        let presenceTask = configuration.celeryEvents ? Task { await self.presence().run() } : nil
        let eventsTask = configuration.celeryEvents
            ? Task { await self.taskEvents.run(broker: configuration.broker, reconnectPolicy: configuration.reconnectPolicy, logger: logger) } : nil
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<configuration.concurrency {
                group.addTask { await self.runSlot(slot) }
            }
        }
        state.withLock { $0.slotsFinished = true }
        // worker-offline once the slots are done; the binding is removed with it.
        presenceTask?.cancel()
        await presenceTask?.value
        eventsTask?.cancel()
        await eventsTask?.value
        maintenanceTask.cancel()
        if let connection = await maintenanceTask.value {
            do {
                try await broker.heartbeat(info(), on: connection)
                if try await broker.deregister(on: connection) {
                    logger.info("worker \(configuration.name) stopped")
                } else {
                    logger.warning("worker \(configuration.name) stopped with messages left in its processing lists; another worker will return them")
                }
            } catch {
                logger.error("could not deregister: \(error)")
            }
        }
    }

    private func presence() -> CeleryPresence {
        CeleryPresence(
            broker: configuration.broker, hostname: configuration.name, frequency: configuration.eventFrequency,
            softwareVersion: configuration.softwareVersion, reconnectPolicy: configuration.reconnectPolicy,
            counts: { [self] in
                state.withLock { ($0.cancellers.count, $0.done + $0.failed) }
            },
            logger: logger, metrics: metrics, control: control()
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

    /// Cancels the running task `taskID` as revoked, through the time limits' path (the handler's task is
    /// cancelled; a running SQL statement gets a cancel request); returns whether it runs here.
    public func terminate(taskID: String) -> Bool {
        guard let slot = activeTasks.slot(of: taskID) else { return false }
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            guard let canceller = state.cancellers[slot], state.reasons[slot] == nil else { return nil }
            state.reasons[slot] = .revoked
            return canceller
        }
        cancel?()
        return cancel != nil
    }

    private func info() -> RedisWorkerInfo {
        let (done, failed) = counts
        return RedisWorkerInfo(
            name: configuration.name, started: started, queues: configuration.queues,
            concurrency: configuration.concurrency, done: done, failed: failed, notice: configuration.notice?.current
        )
    }

    private func connectAtStart() async throws -> RedisConnection {
        var attempt = 1
        while true {
            do {
                return try await RedisConnection.connect(configuration.broker)
            } catch let error as RedisError where error.isTransient {
                if phase != .running { throw error }
                if attempt == 1 { logger.error("cannot reach Redis at \(configuration.broker): \(error); retrying") }
                try await Task.sleep(for: configuration.reconnectPolicy.delay(forRetry: attempt))
                attempt += 1
            }
        }
    }

    // MARK: - Maintenance: heartbeat, reaper, promoter

    private func maintain(initial: RedisConnection) async -> RedisConnection? {
        var connection: RedisConnection? = initial
        var lastBeat = ContinuousClock.now
        var lastDepth: ContinuousClock.Instant?
        var failures = 0
        while !Task.isCancelled {
            do {
                if connection == nil {
                    connection = try await RedisConnection.connect(configuration.broker)
                    if failures > 0 { logger.info("maintenance connection to Redis restored") }
                    failures = 0
                }
                guard let live = connection else { continue }
                if ContinuousClock.now - lastBeat >= configuration.heartbeatInterval {
                    lastBeat = ContinuousClock.now
                    try await broker.heartbeat(info(), on: live)
                    health.heartbeatWritten()
                    let reaped = try await broker.reapDeadWorkers(on: live, workerName: configuration.name)
                    if reaped > 0 { logger.warning("returned \(reaped) message(s) of dead workers to their queues") }
                    let dropped = try await broker.trimDeadLetters(
                        maximumCount: configuration.deadLetterMaximumCount, maximumAge: configuration.deadLetterMaximumAge, on: live
                    )
                    if dropped > 0 {
                        metrics.deadLettersDropped(dropped)
                        logger.warning("dropped \(dropped) dead letter(s) over the count or age limit")
                    }
                }
                if let interval = configuration.queueDepthInterval, lastDepth.map({ ContinuousClock.now - $0 >= interval }) ?? true {
                    lastDepth = ContinuousClock.now
                    try await sampleQueueDepths(on: live)
                }
                while try await broker.promoteDue(limit: 100, on: live) == 100 {}
                try await revoked.refresh(on: live)
                try await pauses.refresh(on: live)
                try? await Task.sleep(for: configuration.promoteInterval)
            } catch {
                failures += 1
                metrics.connectionError(.redis)
                if failures == 1 { logger.warning("maintenance: Redis error: \(error); reconnecting") }
                connection = nil
                try? await Task.sleep(for: configuration.reconnectPolicy.delay(forRetry: min(failures, 20)))
            }
        }
        return connection
    }

    /// `LLEN` of every priority list of every consumed queue, in one round trip; one gauge per queue.
    private func sampleQueueDepths(on connection: RedisConnection) async throws {
        let queues = configuration.queues
        var commands: [[[UInt8]]] = []
        for queue in queues {
            for step in CeleryQueue.prioritySteps {
                commands.append([Array("LLEN".utf8), Array(CeleryQueue.listKey(queue: queue, priority: step).utf8)])
            }
        }
        let replies = try await connection.pipeline(commands)
        let perQueue = CeleryQueue.prioritySteps.count
        for (index, queue) in queues.enumerated() {
            let depth = replies[(index * perQueue)..<((index + 1) * perQueue)].reduce(0) { $0 + Int($1.int ?? 0) }
            metrics.queueDepth(queue, depth)
        }
    }

    // MARK: - Slots

    /// A slot's state across reconnects. Only its own slot task touches it, one step at a time.
    private final class SlotState: @unchecked Sendable {
        // @unchecked Sendable: used by exactly one task (the slot's), sequentially.
        let slot: Int
        var order: [String]
        var blockIndex = 0
        var needsRecovery = true
        var failures = 0
        /// Settlements Redis has not confirmed yet, oldest first: sent with the next fetch, and retried (they
        /// are idempotent) after a reconnect before anything else.
        var pending: [Pending] = []
        /// Messages fetched in the current batch and not started yet; they sit in the processing list.
        var batch: [RedisDelivery] = []
        /// A Redis error met while a task was running; thrown once it has finished.
        var deferredError: (any Error)?

        init(slot: Int, order: [String]) {
            self.slot = slot
            self.order = order
        }
    }

    /// A settlement to make, and the task's log line once it is made (nil for a message that never started).
    private struct Pending: Sendable {
        var delivery: RedisDelivery
        var settlement: RedisSettlement
        var report: Report?
    }

    /// The one log line per task.
    private struct Report: Sendable {
        var name: String
        var id: String
        var state: String
        var start: ContinuousClock.Instant
        /// true: counts as failed, false: as done, nil: neither (scheduled, retried, requeued).
        var failed: Bool?
        var note: String?
        /// How long the task's code ran; nil when it did not run.
        var runtime: Duration? = nil
        /// Set for a dead letter.
        var deadLetter: WorkerMetrics.DeadLetterReason? = nil
    }

    /// The slot's outer loop: (re)connects with backoff and runs ``runConnected(_:backend:on:)`` until the
    /// worker stops and nothing is left to settle.
    private func runSlot(_ slot: Int) async {
        let queues = configuration.queues
        // Stagger the slots so that they start on different queues.
        let shift = slot % queues.count
        let state = SlotState(slot: slot, order: Array(queues[shift...] + queues[..<shift]))
        var backend: RedisConnection?
        while !state.pending.isEmpty || phase == .running {
            var connection: RedisConnection?
            do {
                let broker = try await RedisConnection.connect(configuration.broker)
                connection = broker
                if let backendConfiguration = configuration.backend, backend == nil {
                    backend = try await RedisConnection.connect(backendConfiguration)
                }
                try await runConnected(state, backend: backend, on: broker)
                await broker.close()
            } catch {
                health.slot(slot, connected: false)
                state.failures += 1
                state.needsRecovery = true
                metrics.connectionError(.redis)
                if state.failures == 1 {
                    logger.warning("slot \(slot): Redis error: \(error); reconnecting with backoff")
                }
                if let connection { await connection.close() }
                if let backend { await backend.close() }
                backend = nil
                if phase == .aborting && state.failures > 1 {
                    if !state.pending.isEmpty {
                        logger.error("slot \(slot): could not settle a message before exiting; it stays in the processing list for the reaper")
                    }
                    break
                }
                try? await Task.sleep(for: configuration.reconnectPolicy.delay(forRetry: min(state.failures, 20)))
            }
        }
        if let backend { await backend.close() }
    }

    /// The slot's hot path, isolated to its broker connection: every Redis call is a plain call on the
    /// connection's own thread (no executor hops). One script call settles the finished batch and fetches the next
    /// one (up to ``Configuration/fetchBatch`` messages, all moved into the processing list). When a task turns out
    /// to block (its handler suspends), the finished settlements are sent and the rest of the batch is returned to
    /// its queues at once, so a long task never holds other messages back.
    /// Returns once the worker stops and every settlement is made; throws on a Redis error.
    private func runConnected(
        _ state: SlotState,
        backend: RedisConnection?,
        on connection: isolated RedisConnection
    ) async throws {
        state.batch = []
        state.deferredError = nil
        if !state.pending.isEmpty {
            try await flush(state, fetching: 0, backend: backend, on: connection)
        }
        if state.needsRecovery {
            let returned = try broker.recover(slot: state.slot, on: connection, workerName: configuration.name)
            if returned > 0 { logger.warning("slot \(state.slot): returned \(returned) unowned message(s) to their queues") }
            state.needsRecovery = false
        }
        health.slot(state.slot, connected: true)
        if state.failures > 0 {
            logger.info("slot \(state.slot): connected to Redis again")
            state.failures = 0
        }
        while true {
            if state.batch.isEmpty {
                let running = phase == .running
                if !state.pending.isEmpty || running {
                    try await flush(state, fetching: running ? configuration.fetchBatch : 0, backend: backend, on: connection)
                }
                if state.batch.isEmpty {
                    guard phase == .running else { return }
                    let queues = pauses.beginFetch(slot: state.slot, order: state.order)
                    defer { pauses.endFetch(slot: state.slot) }
                    guard !queues.isEmpty else {
                        // Every queue paused: wait as a blocking fetch would, then look again.
                        pauses.endFetch(slot: state.slot)
                        try? await Task.sleep(for: configuration.blockTimeout)
                        continue
                    }
                    let key = queues[state.blockIndex % queues.count]
                    state.blockIndex += 1
                    guard
                        let delivery = try broker.blockingFetch(
                            slot: state.slot, listKey: key, timeout: configuration.blockTimeout, on: connection
                        )
                    else { continue }
                    state.batch = [delivery]
                }
            }
            if phase != .running {
                // Fetched but never started: back unchanged, in order (RPUSH the last first).
                returnBatch(state)
                continue
            }
            let delivery = state.batch.removeFirst()
            state.order = CeleryQueue.rotated(state.order, lastUsed: delivery.queue)
            let pending = await process(delivery, state: state, backend: backend, on: connection)
            if let report = pending.report {
                taskEvents.finished(id: report.id, state: report.state, settlement: pending.settlement, runtime: report.runtime, note: report.note)
            }
            state.pending.append(pending)
            if let error = state.deferredError {
                state.deferredError = nil
                throw error
            }
        }
    }

    /// Sends the pending settlements and fetches up to `limit` messages into the batch.
    private func flush(
        _ state: SlotState,
        fetching limit: Int,
        backend: RedisConnection?,
        on connection: isolated RedisConnection
    ) async throws {
        let settled = state.pending
        let queues = pauses.beginFetch(slot: state.slot, order: state.order)
        defer { pauses.endFetch(slot: state.slot) }
        let fetched = try await broker.cycle(
            slot: state.slot, settling: settled.map { ($0.delivery, $0.settlement) }, fetching: queues.isEmpty ? 0 : limit,
            listKeys: CeleryQueue.fetchOrder(queues: queues), broker: connection, backend: backend
        )
        state.pending.removeFirst(settled.count)
        state.batch += fetched
        for pending in settled {
            if let report = pending.report { self.report(report) }
        }
    }

    /// Turns the unstarted rest of the batch into requeue settlements, last first, so that the queue serves
    /// them in their original order.
    private func returnBatch(_ state: SlotState) {
        for delivery in state.batch.reversed() {
            state.pending.append(
                Pending(delivery: delivery, settlement: .requeue(message: delivery.raw, listKey: delivery.listKey), report: nil)
            )
        }
        state.batch = []
    }

    /// Called when a task's handler suspends (it waits for a database, …): send what is finished and return the
    /// rest of the batch. A Redis error is kept for after the task.
    private func taskBlocks(_ state: SlotState, backend: RedisConnection?, on connection: isolated RedisConnection) async {
        guard !state.pending.isEmpty || !state.batch.isEmpty, state.deferredError == nil else { return }
        returnBatch(state)
        do {
            try await flush(state, fetching: 0, backend: backend, on: connection)
        } catch {
            state.deferredError = error
        }
    }

    // MARK: - Processing one message

    /// Decides what to do with a delivery (running its task if it is runnable) and returns the settlement.
    private func process(
        _ delivery: RedisDelivery,
        state slotState: SlotState,
        backend: RedisConnection?,
        on connection: isolated RedisConnection
    ) async -> Pending {
        let start = ContinuousClock.now
        let now = Date()
        let run: TaskTriage.Run
        switch triage.triage(delivery.raw, queue: delivery.queue, now: now) {
        case .deadLetter(let rejection):
            return Pending(
                delivery: delivery, settlement: .deadLetter(rejection.record, result: rejection.result),
                report: Report(
                    name: rejection.name, id: rejection.id, state: "DEAD-LETTERED", start: start, failed: true,
                    note: rejection.record.reason, deadLetter: rejection.metric
                )
            )
        case .revoke(let message, let name):
            return Pending(
                delivery: delivery, settlement: .ack(result: message.ignoreResult ? nil : CeleryResult.revokedExpired(taskID: message.id)),
                report: Report(name: name, id: message.id, state: "REVOKED", start: start, failed: true, note: "expired")
            )
        case .delay(let message, let name, let eta):
            return Pending(
                delivery: delivery, settlement: .delay(message: delivery.raw, listKey: delivery.listKey, until: eta, result: nil),
                report: Report(name: name, id: message.id, state: "SCHEDULED", start: start, failed: nil, note: "eta \(CeleryTimestamp.format(eta))")
            )
        case .run(let decided):
            run = decided
        }
        let message = run.message
        let name = run.name
        if CeleryQueue.returnListKey(for: message, fetchedFrom: nil) != delivery.listKey {
            // Its routing names another list: record where it came from, so that a reaper returns it there.
            try? broker.recordSource(delivery, on: connection)
        }
        guard let handler = handlers[name] else {
            // The registry is built from the handlers; unreachable, but never a trap.
            return Pending(
                delivery: delivery, settlement: .requeue(message: delivery.raw, listKey: delivery.listKey),
                report: Report(name: name, id: message.id, state: "REQUEUED", start: start, failed: nil, note: "no handler")
            )
        }

        if revoked.contains(message.id, now: now) {
            taskEvents.received(message, name: name)
            return Pending(
                delivery: delivery, settlement: .ack(result: message.ignoreResult ? nil : CeleryResult.revoked(taskID: message.id)),
                report: Report(name: name, id: message.id, state: "REVOKED", start: start, failed: true, note: "revoked")
            )
        }

        if run.checkStoredSuccess, await storedSuccess(taskID: message.id, backend: backend, on: connection) {
            return Pending(
                delivery: delivery, settlement: .ack(result: nil),
                report: Report(name: name, id: message.id, state: "SUCCESS", start: start, failed: false, note: "redelivered duplicate, not run again")
            )
        }
        if run.isolate {
            // A worker died holding this message before: run it alone (one such message per process at a time, the
            // only one in its processing list, and named in P:running:<id>), so that if it kills this worker too the
            // reaper charges it, and nothing that merely ran beside it.
            let admitted = state.withLock { state -> Bool in
                if state.suspectRunning { return false }
                state.suspectRunning = true
                return true
            }
            guard admitted else {
                return Pending(
                    delivery: delivery,
                    settlement: .delay(message: delivery.raw, listKey: delivery.listKey, until: now.addingTimeInterval(0.5), result: nil),
                    report: Report(name: name, id: message.id, state: "DEFERRED", start: start, failed: nil, note: "another suspect message runs in this worker")
                )
            }
            await taskBlocks(slotState, backend: backend, on: connection)
            try? broker.markRunning(delivery.raw, on: connection)
        }
        defer {
            if run.isolate {
                try? broker.markRunning(nil, on: connection)
                state.withLock { $0.suspectRunning = false }
            }
        }

        let invocation = JobInvocation(message: message, taskName: name, slot: delivery.slot, queue: delivery.queue)
        let began = ContinuousClock.now
        metrics.taskStarted()
        activeTasks.began(message, name: name, queue: delivery.queue, slot: delivery.slot)
        taskEvents.started(message, name: name)
        let outcome = await execute(handler, invocation, timeLimit: run.timeLimit, state: slotState, backend: backend, on: connection)
        activeTasks.ended(id: message.id, name: name)
        metrics.taskEnded()
        var pending = conclude(outcome, delivery: delivery, message: message, name: name, start: start)
        pending.report?.runtime = ContinuousClock.now - began
        return pending
    }

    private func storedSuccess(taskID: String, backend: RedisConnection?, on connection: isolated RedisConnection) async -> Bool {
        do {
            if let backend {
                return try await broker.storedResult(taskID: taskID, on: backend)?.state == .success
            }
            return try broker.storedResult(taskID: taskID, on: connection)?.state == .success
        } catch {
            // Unknown: run it; the settle script's guard keeps a stored SUCCESS anyway.
            return false
        }
    }

    /// Whether a handler's task has finished, readable without awaiting it.
    private final class Completion: Sendable {
        private let done = Atomic<Bool>(false)
        func finish() { done.store(true, ordering: .releasing) }
        var isFinished: Bool { done.load(ordering: .acquiring) }
    }

    private enum Outcome: Sendable {
        case success(JSONValue)
        case failed(any Error)
        case cancelled(CancelReason)
    }

    /// Runs the handler as a task of its own (so it can be cancelled), started immediately and isolated to the
    /// slot's connection: a handler that never suspends (ping) completes without a single executor hop.
    private func execute(
        _ handler: @escaping JobHandler,
        _ invocation: JobInvocation,
        timeLimit: TaskTriage.TimeLimitPlan?,
        state slotState: SlotState,
        backend: RedisConnection?,
        on connection: isolated RedisConnection
    ) async -> Outcome {
        let slot = invocation.slot
        let completion = Completion()
        let job = Task.immediate {
            connection.assertIsolated()
            defer { completion.finish() }
            return try await handler(invocation)
        }
        let abortNow = state.withLock { state -> Bool in
            state.cancellers[slot] = { job.cancel() }
            state.reasons[slot] = nil
            if state.phase == .aborting {
                state.reasons[slot] = .shutdown
                return true
            }
            return false
        }
        if abortNow { job.cancel() }

        var timer: Task<Void, Never>?
        if let timeLimit {
            let reason: CancelReason = timeLimit.kind == .hard ? .hardTimeLimit(timeLimit.seconds) : .softTimeLimit(timeLimit.seconds)
            timer = Task { [self] in
                try? await Task.sleep(for: timeLimit.duration)
                if Task.isCancelled { return }
                let cancel = self.state.withLock { state -> Bool in
                    guard state.cancellers[slot] != nil, state.reasons[slot] == nil else { return false }
                    state.reasons[slot] = reason
                    return true
                }
                if cancel { job.cancel() }
            }
        }
        if !completion.isFinished {
            // The handler suspended: it may take a while. It cannot resume before this slot suspends (both are
            // isolated to the connection), so settle the finished tasks and release the rest of the batch first.
            await taskBlocks(slotState, backend: backend, on: connection)
        }
        let result = await job.result
        timer?.cancel()
        let reason = state.withLock { state -> CancelReason? in
            state.cancellers[slot] = nil
            return state.reasons.removeValue(forKey: slot)
        }
        switch result {
        case .success(let value):
            return .success(value)
        case .failure(let error):
            if let reason { return .cancelled(reason) }
            return .failed(error)
        }
    }

    /// The settlement for a task's outcome.
    private func conclude(
        _ outcome: Outcome,
        delivery: RedisDelivery,
        message: CeleryMessage,
        name: String,
        start: ContinuousClock.Instant
    ) -> Pending {
        let keepResult = !message.ignoreResult
        func pending(_ settlement: RedisSettlement, _ state: String, failed: Bool?, note: String? = nil) -> Pending {
            Pending(
                delivery: delivery, settlement: settlement,
                report: Report(name: name, id: message.id, state: state, start: start, failed: failed, note: note)
            )
        }
        switch outcome {
        case .success(let value):
            let result = keepResult ? CeleryResult.success(taskID: message.id, result: value) : nil
            if let result, let seconds = configuration.successResultExpires[name] {
                return pending(.ackExpiring(result: result, seconds: seconds), "SUCCESS", failed: false)
            }
            return pending(.ack(result: result), "SUCCESS", failed: false)

        case .cancelled(.shutdown):
            return pending(
                .requeue(message: message.redelivered(), listKey: delivery.listKey), "REQUEUED", failed: nil,
                note: "worker shutting down"
            )

        case .cancelled(.hardTimeLimit(let seconds)):
            let exception = CeleryResult.failure(type: "TimeLimitExceeded", module: "billiard.exceptions", messages: [Self.number(seconds)])
            return pending(
                .ack(result: keepResult ? CeleryResult.failure(taskID: message.id, exception: exception) : nil), "FAILURE",
                failed: true, note: "hard time limit (\(seconds) s) exceeded"
            )

        case .cancelled(.revoked):
            return pending(
                .ack(result: keepResult ? CeleryResult.revoked(taskID: message.id, reason: "terminated") : nil), "REVOKED", failed: true,
                note: "terminated"
            )

        case .cancelled(.softTimeLimit(let seconds)):
            let exception = CeleryResult.failure(type: "SoftTimeLimitExceeded", module: "billiard.exceptions", messages: [])
            return pending(
                .ack(result: keepResult ? CeleryResult.failure(taskID: message.id, exception: exception) : nil), "FAILURE",
                failed: true, note: "soft time limit (\(seconds) s) exceeded"
            )

        case .failed(let error):
            let jobError = (error as? JobError)
                ?? JobError(.failure, exception: .init(type: "RuntimeError", module: "builtins", messages: [.string(String(describing: error))]))
            let failure = keepResult
                ? CeleryResult.failure(taskID: message.id, exception: jobError.exception.json, traceback: jobError.traceback) : nil
            switch jobError.kind {
            case .invalidArguments:
                let reason = "invalid arguments: \(jobError.exception.messages.first?.stringValue ?? jobError.exception.type)"
                let record = DeadLetter(
                    reason: reason, queue: delivery.queue, taskID: message.id, taskName: message.taskName,
                    worker: configuration.name, original: delivery.raw
                )
                var letter = pending(.deadLetter(record, result: failure), "DEAD-LETTERED", failed: true, note: reason)
                letter.report?.deadLetter = .invalidArguments
                return letter

            case .transient where configuration.retryPolicy.shouldRetry(retries: message.retries):
                let delay = configuration.retryPolicy.delay(forAttempt: message.retries)
                let eta = Date().addingTimeInterval(Self.seconds(delay))
                let retried = message.retried(eta: eta, retries: message.retries + 1)
                let listKey = CeleryQueue.returnListKey(for: message, fetchedFrom: delivery.listKey)
                let seconds = String(format: "%.3f", Self.seconds(delay))
                let result = keepResult
                    ? CeleryResult(
                        taskID: message.id, state: .retry, result: jobError.exception.json,
                        traceback: "Retry in \(seconds)s: \(jobError.exception.type)"
                    )
                    : nil
                return pending(
                    .delay(message: retried, listKey: listKey, until: eta, result: result), "RETRY", failed: nil,
                    note: "\(jobError.exception.type); retry \(message.retries + 1) in \(seconds) s"
                )

            case .busy:
                let until = Date().addingTimeInterval(Self.seconds(JobError.busyDelay))
                return pending(
                    .delay(message: message.deferredAgain(), listKey: delivery.listKey, until: until, result: nil), "DEFERRED", failed: nil,
                    note: "a live run holds this task's lock; delivered again in \(Self.seconds(JobError.busyDelay)) s"
                )

            case .failure, .transient:
                return pending(.ack(result: failure), "FAILURE", failed: true, note: jobError.exception.type)
            }
        }
    }

    /// Logs a task's line (name, id, state, duration; never arguments) and counts done and failed tasks.
    private func report(_ report: Report) {
        metrics.taskFinished(report.name, state: report.state, runtime: report.runtime)
        if let reason = report.deadLetter { metrics.deadLettered(reason) }
        if let failed = report.failed {
            state.withLock { state in
                if failed { state.failed += 1 } else { state.done += 1 }
            }
        }
        let level: Logger.Level = report.failed == true ? .warning : .info
        // Formatted only when the level is enabled. Names and ids come from the message: control characters are
        // escaped so that no message can forge log lines.
        if configuration.taskLogMetadata {
            logger.log(level: level, "\(Self.line(report))", metadata: Self.metadata(report))
        } else {
            logger.log(level: level, "\(Self.line(report))")
        }
    }

    /// The task line's fields for structured logs (escaped like the line; never arguments or results).
    private static func metadata(_ report: Report) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "task": .string(escaped(report.name)), "task_id": .string(escaped(report.id)), "state": .string(report.state),
            "duration_ms": .string(milliseconds(report)),
        ]
        if let note = report.note { metadata["note"] = .string(note) }
        return metadata
    }

    private static func milliseconds(_ report: Report) -> String {
        String(format: "%.2f", seconds(ContinuousClock.now - report.start) * 1000)
    }

    private static func line(_ report: Report) -> String {
        let milliseconds = milliseconds(report)
        let suffix = report.note.map { " (\($0))" } ?? ""
        return "task \(escaped(report.name))[\(escaped(report.id))] \(report.state) in \(milliseconds) ms\(suffix)"
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private static func number(_ value: Double) -> JSONValue {
        if value.rounded() == value, let integer = Int64(exactly: value) { return .int(integer) }
        return .double(value)
    }

    /// A task name for dead-letter reasons (see ``TaskTriage/quoted(_:)``).
    static func quoted(_ name: String) -> String {
        TaskTriage.quoted(name)
    }

    /// Text from a message for logs: at most 100 characters, control characters escaped as `\xNN`.
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars.prefix(100) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += "\\x" + String(scalar.value, radix: 16)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result + (text.unicodeScalars.count > 100 ? "…" : "")
    }
}
