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
    }

    private struct State: Sendable {
        var phase = Phase.running
        var shutdownRequests = 0
        var cancellers: [Int: @Sendable () -> Void] = [:]
        var reasons: [Int: CancelReason] = [:]
        var done = 0
        var failed = 0
        var slotsFinished = false
    }

    /// The settings.
    public let configuration: Configuration
    /// The broker model (keys, scripts).
    public let broker: RedisBroker
    private let handlers: [String: JobHandler]
    private let logger: Logger
    private let state = Mutex(State())
    private let started = Date()

    /// - Parameters:
    ///   - configuration: the settings.
    ///   - handlers: the tasks by name.
    ///   - logger: receives one line per task and connection events; never task arguments.
    public init(configuration: Configuration, handlers: [String: JobHandler], logger: Logger) {
        var configuration = configuration
        configuration.concurrency = max(1, configuration.concurrency)
        if configuration.queues.isEmpty { configuration.queues = [CeleryQueue.defaultQueue] }
        self.configuration = configuration
        self.broker = RedisBroker(
            keyPrefix: configuration.keyPrefix,
            concurrency: configuration.concurrency,
            resultExpires: configuration.resultExpires,
            heartbeatTTL: configuration.heartbeatTTL
        )
        self.handlers = handlers
        self.logger = logger
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
        let reaped = try await broker.reapDeadWorkers(on: maintenance, workerName: configuration.name)
        if reaped > 0 { logger.warning("returned \(reaped) message(s) of dead workers to their queues") }
        logger.info(
            "worker \(configuration.name) (id \(broker.workerID)) ready: queues \(configuration.queues.joined(separator: ",")), concurrency \(configuration.concurrency), prefix \(configuration.keyPrefix)"
        )

        let maintenanceTask = Task { await self.maintain(initial: maintenance) }
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<configuration.concurrency {
                group.addTask { await self.runSlot(slot) }
            }
        }
        state.withLock { $0.slotsFinished = true }
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

    private func info() -> RedisWorkerInfo {
        let (done, failed) = counts
        return RedisWorkerInfo(
            name: configuration.name, started: started, queues: configuration.queues,
            concurrency: configuration.concurrency, done: done, failed: failed
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
                    let reaped = try await broker.reapDeadWorkers(on: live, workerName: configuration.name)
                    if reaped > 0 { logger.warning("returned \(reaped) message(s) of dead workers to their queues") }
                }
                while try await broker.promoteDue(limit: 100, on: live) == 100 {}
                try? await Task.sleep(for: configuration.promoteInterval)
            } catch {
                failures += 1
                if failures == 1 { logger.warning("maintenance: Redis error: \(error); reconnecting") }
                connection = nil
                try? await Task.sleep(for: configuration.reconnectPolicy.delay(forRetry: min(failures, 20)))
            }
        }
        return connection
    }

    // MARK: - Slots

    /// A slot's connections, dropped after any error and reopened on demand.
    private struct SlotConnections {
        var broker: RedisConnection?
        var backend: RedisConnection?
        var failures = 0
    }

    private func connectBroker(_ connections: inout SlotConnections) async throws -> RedisConnection {
        if let broker = connections.broker { return broker }
        let broker = try await RedisConnection.connect(configuration.broker)
        connections.broker = broker
        return broker
    }

    private func connectBackend(_ connections: inout SlotConnections) async throws -> RedisConnection? {
        guard let backend = configuration.backend else { return nil }
        if let connection = connections.backend { return connection }
        let connection = try await RedisConnection.connect(backend)
        connections.backend = connection
        return connection
    }

    private func connectionFailed(_ error: any Error, slot: Int, _ connections: inout SlotConnections) async {
        connections.failures += 1
        if connections.failures == 1 {
            logger.warning("slot \(slot): Redis error: \(error); reconnecting with backoff")
        }
        if let broker = connections.broker { await broker.close() }
        if let backend = connections.backend { await backend.close() }
        connections.broker = nil
        connections.backend = nil
        try? await Task.sleep(for: configuration.reconnectPolicy.delay(forRetry: min(connections.failures, 20)))
    }

    private func connectionRecovered(slot: Int, _ connections: inout SlotConnections) {
        if connections.failures > 0 {
            logger.info("slot \(slot): connected to Redis again")
            connections.failures = 0
        }
    }

    private func runSlot(_ slot: Int) async {
        var connections = SlotConnections()
        var needsRecovery = true
        let queues = configuration.queues
        // Stagger the slots so that they start on different queues.
        var order = Array(queues[(slot % queues.count)...] + queues[..<(slot % queues.count)])
        var blockIndex = 0
        while phase == .running {
            do {
                let connection = try await connectBroker(&connections)
                if needsRecovery {
                    let returned = try await broker.recover(slot: slot, on: connection, workerName: configuration.name)
                    if returned > 0 { logger.warning("slot \(slot): returned \(returned) unowned message(s) to their queues") }
                    needsRecovery = false
                }
                connectionRecovered(slot: slot, &connections)
                var delivery = try await broker.fetch(
                    slot: slot, listKeys: CeleryQueue.fetchOrder(queues: order), on: connection
                )
                if delivery == nil {
                    let key = order[blockIndex % order.count]
                    blockIndex += 1
                    delivery = try await broker.blockingFetch(
                        slot: slot, listKey: key, timeout: configuration.blockTimeout, on: connection
                    )
                }
                guard let delivery else { continue }
                order = CeleryQueue.rotated(order, lastUsed: delivery.queue)
                if phase != .running {
                    // Fetched as shutdown began: it never started, so it goes back unchanged.
                    _ = await settleReliably(
                        delivery, .requeue(message: delivery.raw, listKey: delivery.listKey), &connections
                    )
                    break
                }
                await process(delivery, &connections)
            } catch {
                await connectionFailed(error, slot: slot, &connections)
                needsRecovery = true
            }
        }
        if let broker = connections.broker { await broker.close() }
        if let backend = connections.backend { await backend.close() }
    }

    /// Settles, reconnecting and retrying on connection errors. Gives up only once the worker aborts (the
    /// message then stays in the processing list, and the reaper returns it after this process is gone).
    private func settleReliably(
        _ delivery: RedisDelivery,
        _ settlement: RedisSettlement,
        _ connections: inout SlotConnections
    ) async -> Bool {
        var attempts = 0
        while true {
            do {
                let brokerConnection = try await connectBroker(&connections)
                let backendConnection = try await connectBackend(&connections)
                try await broker.settle(delivery, settlement, broker: brokerConnection, backend: backendConnection)
                connectionRecovered(slot: delivery.slot, &connections)
                return true
            } catch {
                attempts += 1
                if phase == .aborting && attempts > 1 {
                    logger.error("slot \(delivery.slot): could not settle a message before exiting: \(error); it stays in the processing list")
                    return false
                }
                await connectionFailed(error, slot: delivery.slot, &connections)
            }
        }
    }

    // MARK: - Processing one message

    private func process(_ delivery: RedisDelivery, _ connections: inout SlotConnections) async {
        let start = ContinuousClock.now
        let now = Date()
        let message: CeleryMessage
        switch CeleryMessage.decode(delivery.raw) {
        case .failure(let error):
            let record = DeadLetter(error: error, time: now, queue: delivery.queue, worker: configuration.name, original: delivery.raw)
            let result = error.taskID.map {
                CeleryResult.failure(
                    taskID: $0,
                    exception: CeleryResult.failure(type: "ValueError", messages: [.string("malformed message: \(error.reason)")])
                )
            }
            _ = await settleReliably(delivery, .deadLetter(record, result: result), &connections)
            finish(name: error.taskName ?? "?", id: error.taskID ?? "?", state: "DEAD-LETTERED", start: start, failed: true, note: error.reason)
            return
        case .success(let decoded):
            message = decoded
        }

        let name = configuration.aliases[message.taskName] ?? message.taskName
        guard let handler = handlers[name] else {
            let reason = "unregistered task \(Self.quoted(message.taskName))"
            let record = DeadLetter(
                reason: reason, time: now, queue: delivery.queue, taskID: message.id, taskName: message.taskName,
                worker: configuration.name, original: delivery.raw
            )
            let result = CeleryResult.failure(
                taskID: message.id,
                exception: CeleryResult.failure(type: "NotRegistered", module: "celery.exceptions", messages: [.string(message.taskName)])
            )
            _ = await settleReliably(delivery, .deadLetter(record, result: message.ignoreResult ? nil : result), &connections)
            finish(name: message.taskName, id: message.id, state: "DEAD-LETTERED", start: start, failed: true, note: reason)
            return
        }

        if message.isExpired(now: now) {
            let result = message.ignoreResult ? nil : CeleryResult.revokedExpired(taskID: message.id)
            _ = await settleReliably(delivery, .ack(result: result), &connections)
            finish(name: name, id: message.id, state: "REVOKED", start: start, failed: true, note: "expired")
            return
        }

        if let eta = message.eta, eta.timeIntervalSince(now) > 0.001 {
            _ = await settleReliably(
                delivery, .delay(message: delivery.raw, listKey: delivery.listKey, until: eta, result: nil), &connections
            )
            finish(name: name, id: message.id, state: "SCHEDULED", start: start, failed: nil, note: "eta \(CeleryTimestamp.format(eta))")
            return
        }

        if message.isRedelivered, await storedSuccess(taskID: message.id, &connections) {
            _ = await settleReliably(delivery, .ack(result: nil), &connections)
            finish(name: name, id: message.id, state: "SUCCESS", start: start, failed: false, note: "redelivered duplicate, not run again")
            return
        }

        let invocation = JobInvocation(message: message, taskName: name, slot: delivery.slot, queue: delivery.queue)
        let outcome = await execute(handler, invocation)
        await conclude(outcome, delivery: delivery, message: message, name: name, start: start, &connections)
    }

    private func storedSuccess(taskID: String, _ connections: inout SlotConnections) async -> Bool {
        do {
            var connection = try await connectBackend(&connections)
            if connection == nil { connection = try await connectBroker(&connections) }
            guard let connection else { return false }
            return try await broker.storedResult(taskID: taskID, on: connection)?.state == .success
        } catch {
            // Unknown: run it; Celery's own guard keeps a stored SUCCESS anyway.
            return false
        }
    }

    private enum Outcome: Sendable {
        case success(JSONValue)
        case failed(any Error)
        case cancelled(CancelReason)
    }

    private func execute(_ handler: @escaping JobHandler, _ invocation: JobInvocation) async -> Outcome {
        let slot = invocation.slot
        let job = Task { try await handler(invocation) }
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
        if let (seconds, reason) = timeLimit(for: invocation.message) {
            timer = Task { [self] in
                try? await Task.sleep(for: .nanoseconds(Int64(seconds * 1e9)))
                if Task.isCancelled { return }
                let cancel = self.state.withLock { state -> Bool in
                    guard state.cancellers[slot] != nil, state.reasons[slot] == nil else { return false }
                    state.reasons[slot] = reason
                    return true
                }
                if cancel { job.cancel() }
            }
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

    /// The earliest of the soft and hard limits (message first, then the worker's defaults).
    private func timeLimit(for message: CeleryMessage) -> (Double, CancelReason)? {
        let hard = message.timeLimit.hard ?? configuration.defaultTimeLimit.hard
        let soft = message.timeLimit.soft ?? configuration.defaultTimeLimit.soft
        var best: (Double, CancelReason)?
        if let hard, hard > 0 { best = (hard, .hardTimeLimit(hard)) }
        if let soft, soft > 0, soft < (best?.0 ?? .infinity) { best = (soft, .softTimeLimit(soft)) }
        return best
    }

    private func conclude(
        _ outcome: Outcome,
        delivery: RedisDelivery,
        message: CeleryMessage,
        name: String,
        start: ContinuousClock.Instant,
        _ connections: inout SlotConnections
    ) async {
        let keepResult = !message.ignoreResult
        switch outcome {
        case .success(let value):
            let result = keepResult ? CeleryResult.success(taskID: message.id, result: value) : nil
            _ = await settleReliably(delivery, .ack(result: result), &connections)
            finish(name: name, id: message.id, state: "SUCCESS", start: start, failed: false)

        case .cancelled(.shutdown):
            _ = await settleReliably(
                delivery, .requeue(message: message.redelivered(), listKey: delivery.listKey), &connections
            )
            finish(name: name, id: message.id, state: "REQUEUED", start: start, failed: nil, note: "worker shutting down")

        case .cancelled(.hardTimeLimit(let seconds)), .cancelled(.softTimeLimit(let seconds)):
            let soft: Bool
            if case .cancelled(.softTimeLimit) = outcome { soft = true } else { soft = false }
            let exception = CeleryResult.failure(
                type: soft ? "SoftTimeLimitExceeded" : "TimeLimitExceeded", module: "billiard.exceptions",
                messages: soft ? [] : [Self.number(seconds)]
            )
            let result = keepResult ? CeleryResult.failure(taskID: message.id, exception: exception) : nil
            _ = await settleReliably(delivery, .ack(result: result), &connections)
            finish(name: name, id: message.id, state: "FAILURE", start: start, failed: true, note: "time limit (\(seconds) s) exceeded")

        case .failed(let error):
            let jobError = (error as? JobError)
                ?? JobError(.failure, exception: .init(type: "RuntimeError", module: "builtins", messages: [.string(String(describing: error))]))
            switch jobError.kind {
            case .invalidArguments:
                let reason = "invalid arguments: \(jobError.exception.messages.first?.stringValue ?? jobError.exception.type)"
                let record = DeadLetter(
                    reason: reason, queue: delivery.queue, taskID: message.id, taskName: message.taskName,
                    worker: configuration.name, original: delivery.raw
                )
                let result = keepResult
                    ? CeleryResult.failure(taskID: message.id, exception: jobError.exception.json, traceback: jobError.traceback)
                    : nil
                _ = await settleReliably(delivery, .deadLetter(record, result: result), &connections)
                finish(name: name, id: message.id, state: "DEAD-LETTERED", start: start, failed: true, note: reason)

            case .transient where configuration.retryPolicy.shouldRetry(retries: message.retries):
                let delay = configuration.retryPolicy.delay(forAttempt: message.retries)
                let eta = Date().addingTimeInterval(Self.seconds(delay))
                let retried = message.retried(eta: eta, retries: message.retries + 1)
                let listKey = CeleryQueue.listKey(queue: message.queue(default: delivery.queue), priority: message.priority)
                let result = keepResult
                    ? CeleryResult(
                        taskID: message.id, state: .retry, result: jobError.exception.json,
                        traceback: "Retry in \(String(format: "%.3f", Self.seconds(delay)))s: \(jobError.exception.type)"
                    )
                    : nil
                _ = await settleReliably(
                    delivery, .delay(message: retried, listKey: listKey, until: eta, result: result), &connections
                )
                finish(
                    name: name, id: message.id, state: "RETRY", start: start, failed: nil,
                    note: "\(jobError.exception.type); retry \(message.retries + 1) in \(String(format: "%.3f", Self.seconds(delay))) s"
                )

            case .failure, .transient:
                let result = keepResult
                    ? CeleryResult.failure(taskID: message.id, exception: jobError.exception.json, traceback: jobError.traceback)
                    : nil
                _ = await settleReliably(delivery, .ack(result: result), &connections)
                finish(name: name, id: message.id, state: "FAILURE", start: start, failed: true, note: jobError.exception.type)
            }
        }
    }

    /// The one log line per task: name, id, state, duration (never arguments).
    private func finish(name: String, id: String, state taskState: String, start: ContinuousClock.Instant, failed: Bool?, note: String? = nil) {
        let elapsed = ContinuousClock.now - start
        if let failed {
            state.withLock { failed ? ($0.failed += 1) : ($0.done += 1) }
        }
        let milliseconds = String(format: "%.2f", Self.seconds(elapsed) * 1000)
        let suffix = note.map { " (\($0))" } ?? ""
        if failed == true {
            logger.warning("task \(name)[\(id)] \(taskState) in \(milliseconds) ms\(suffix)")
        } else {
            logger.info("task \(name)[\(id)] \(taskState) in \(milliseconds) ms\(suffix)")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private static func number(_ value: Double) -> JSONValue {
        if value.rounded() == value, let integer = Int64(exactly: value) { return .int(integer) }
        return .double(value)
    }

    /// A task name for logs and dead-letter reasons: at most 100 characters, control characters escaped.
    static func quoted(_ name: String) -> String {
        var text = ""
        for scalar in name.unicodeScalars.prefix(100) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                text += "\\x" + String(scalar.value, radix: 16)
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return "'" + text + (name.unicodeScalars.count > 100 ? "…" : "") + "'"
    }
}
