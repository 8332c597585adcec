import CeleryProtocol
import Redis
import ServiceLifecycle
import Logging

/// The worker's housekeeping on its own connection, as a service: the heartbeat (and the worker hash), the
/// reaper of dead workers, the dead-letter trim, the queue-depth gauge, the delayed-set promoter and the refresh
/// of the revoked set and queue pauses. On graceful shutdown (the slots have stopped by then: the group stops
/// services in reverse order) it writes a last heartbeat and deregisters the worker.
struct WorkerMaintenance: Service {
    let worker: RedisWorker
    /// The connection the worker registered on at start.
    let connection: RedisConnection

    func run() async {
        let initial = connection
        await cancelWhenGracefulShutdown {
            await Self.loop(worker, initial: initial)
        }
    }

    private static func loop(_ worker: RedisWorker, initial: RedisConnection) async {
        let configuration = worker.configuration
        var first: RedisConnection? = initial
        var lastBeat = ContinuousClock.now
        var lastDepth: ContinuousClock.Instant?
        await worker.reconnector("maintenance", restoredLine: "maintenance connection to Redis restored").run(
            open: {
                if let connection = first {
                    first = nil
                    return connection
                }
                return try await RedisConnection.connect(configuration.broker)
            },
            close: { await $0.close() },
            session: { live, attempt in
                attempt.connected()
                while !Task.isCancelled {
                    if ContinuousClock.now - lastBeat >= configuration.heartbeatInterval {
                        lastBeat = ContinuousClock.now
                        try await beat(worker, on: live)
                    }
                    if let interval = configuration.queueDepthInterval, lastDepth.map({ ContinuousClock.now - $0 >= interval }) ?? true {
                        lastDepth = ContinuousClock.now
                        try await sampleQueueDepths(worker, on: live)
                    }
                    while try await worker.broker.promoteDue(limit: 100, on: live) == 100 {}
                    try await worker.revoked.refresh(on: live)
                    try await worker.pauses.refresh(on: live)
                    try? await Task.sleep(for: configuration.promoteInterval)
                }
                await deregister(worker, on: live)
            }
        )
    }

    /// The heartbeat, the reaper and the dead-letter trim.
    private static func beat(_ worker: RedisWorker, on live: RedisConnection) async throws {
        let configuration = worker.configuration
        try await worker.broker.heartbeat(worker.info(), on: live)
        worker.health.heartbeatWritten()
        let reaped = try await worker.broker.reapDeadWorkers(on: live, workerName: configuration.name)
        if reaped > 0 { worker.logger.warning("returned \(reaped) message(s) of dead workers to their queues") }
        let dropped = try await worker.broker.trimDeadLetters(
            maximumCount: configuration.deadLetterMaximumCount, maximumAge: configuration.deadLetterMaximumAge, on: live
        )
        if dropped > 0 {
            worker.metrics.deadLettersDropped(dropped)
            worker.logger.warning("dropped \(dropped) dead letter(s) over the count or age limit")
        }
    }

    /// The last heartbeat (final counts) and the deregistration.
    private static func deregister(_ worker: RedisWorker, on connection: RedisConnection) async {
        let name = worker.configuration.name
        do {
            try await worker.broker.heartbeat(worker.info(), on: connection)
            if try await worker.broker.deregister(on: connection) {
                worker.logger.info("worker \(name) stopped")
            } else {
                worker.logger.warning("worker \(name) stopped with messages left in its processing lists; another worker will return them")
            }
        } catch {
            worker.logger.error("could not deregister: \(error)")
        }
    }

    /// `LLEN` of every priority list of every consumed queue, in one round trip; one gauge per queue.
    private static func sampleQueueDepths(_ worker: RedisWorker, on connection: RedisConnection) async throws {
        let queues = worker.configuration.queues
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
            worker.metrics.queueDepth(queue, depth)
        }
    }
}
