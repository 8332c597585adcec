import CeleryProtocol
import Redis
import ServiceLifecycle
import Logging
import Synchronization

/// The worker's slots as one service: `concurrency` fetch loops, each on its own broker connection. A graceful
/// shutdown is a warm shutdown (``RedisWorker/requestShutdown()``); cancellation aborts running tasks (their
/// messages are returned). Returns once every slot has stopped and settled what it held.
struct WorkerSlots: Service {
    let worker: RedisWorker

    func run() async {
        let worker = self.worker
        // The group has trapped its signals by now (it does so before it starts services).
        worker.state.withLock { $0.servicesRunning = true }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                // Detached: a slot stops by the worker's phase, not by cancellation (see onCancel), and starts a task
                // per message; without the group's task-local values, creating it copies none.
                let slots = (0..<worker.configuration.concurrency).map { slot in
                    Task.detached { await worker.runSlot(slot) }
                }
                for slot in slots { await slot.value }
            } onGracefulShutdown: {
                worker.warmShutdown()
            }
        } onCancel: {
            worker.abortNow()
        }
        worker.state.withLock { $0.slotsFinished = true }
    }
}

/// A slot's state across reconnects. Only its own slot task touches it, one step at a time.
final class SlotState: @unchecked Sendable {
    // @unchecked Sendable: used by exactly one task (the slot's), sequentially.
    let slot: Int
    var order: [String]
    var blockIndex = 0
    var needsRecovery = true
    /// Settlements Redis has not confirmed yet, oldest first: sent with the next fetch, and retried (they
    /// are idempotent) after a reconnect before anything else.
    var pending: [SettledTask] = []
    /// Messages fetched in the current batch and not started yet; they sit in the processing list.
    var batch: [RedisDelivery] = []
    /// A Redis error met while a task was running; thrown once it has finished.
    var deferredError: (any Error)?

    init(slot: Int, order: [String]) {
        self.slot = slot
        self.order = order
    }
}

extension RedisWorker {
    /// The slot's outer loop: (re)connects through the ``RedisReconnector`` and runs
    /// ``runConnected(_:backend:attempt:on:)`` until the worker stops and nothing is left to settle.
    func runSlot(_ slot: Int) async {
        let queues = configuration.queues
        // Stagger the slots so that they start on different queues.
        let shift = slot % queues.count
        let state = SlotState(slot: slot, order: Array(queues[shift...] + queues[..<shift]))
        // The broker connection, and the result backend's when results go to another server or database.
        await reconnector("slot \(slot)").run(
            open: { () async throws -> (RedisConnection, RedisConnection?) in
                let connection = try await RedisConnection.connect(configuration.broker)
                guard let backendConfiguration = configuration.backend else { return (connection, nil) }
                do {
                    return (connection, try await RedisConnection.connect(backendConfiguration))
                } catch {
                    await connection.close()
                    throw error
                }
            },
            close: { connections in
                await connections.0.close()
                await connections.1?.close()
            },
            shouldStop: { [self] failures in
                health.slot(slot, connected: false)
                state.needsRecovery = true
                let phase = self.phase
                if phase == .aborting && failures > 1 {
                    if !state.pending.isEmpty {
                        logger.error("slot \(slot): could not settle a message before exiting; it stays in the processing list for the reaper")
                    }
                    return true
                }
                return phase != .running && state.pending.isEmpty
            },
            session: { connections, attempt in
                try await runConnected(state, backend: connections.1, attempt: attempt, on: connections.0)
            }
        )
    }

    /// The slot's hot path, isolated to its broker connection: every Redis call is a plain call on the
    /// connection's own thread (no executor hops). One script call settles the finished batch and fetches the next
    /// one (up to ``Configuration/fetchBatch`` messages, all moved into the processing list). When a task turns out
    /// to block (its handler suspends), the finished settlements are sent and the rest of the batch is returned to
    /// its queues at once, so a long task never holds other messages back.
    /// Returns once the worker stops and every settlement is made; throws on a Redis error.
    func runConnected(
        _ state: SlotState,
        backend: RedisConnection?,
        attempt: RedisReconnector.Attempt,
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
        attempt.connected()
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
            let settled = await process(delivery, state: state, backend: backend, on: connection)
            if let report = settled.report {
                taskEvents.finished(id: report.id, state: report.state, settlement: settled.settlement, runtime: report.runtime, note: report.note)
            }
            state.pending.append(settled)
            if let error = state.deferredError {
                state.deferredError = nil
                throw error
            }
        }
    }

    /// Sends the pending settlements and fetches up to `limit` messages into the batch.
    func flush(
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
        for task in settled {
            if let report = task.report { self.report(report) }
        }
    }

    /// Turns the unstarted rest of the batch into requeue settlements, last first, so that the queue serves
    /// them in their original order.
    func returnBatch(_ state: SlotState) {
        for delivery in state.batch.reversed() {
            state.pending.append(
                SettledTask(delivery: delivery, settlement: .requeue(message: delivery.raw, listKey: delivery.listKey), report: nil)
            )
        }
        state.batch = []
    }

    /// Called when a task's handler suspends (it waits for a database, …): send what is finished and return the
    /// rest of the batch. A Redis error is kept for after the task.
    func taskBlocks(_ state: SlotState, backend: RedisConnection?, on connection: isolated RedisConnection) async {
        guard !state.pending.isEmpty || !state.batch.isEmpty, state.deferredError == nil else { return }
        returnBatch(state)
        do {
            try await flush(state, fetching: 0, backend: backend, on: connection)
        } catch {
            state.deferredError = error
        }
    }
}
