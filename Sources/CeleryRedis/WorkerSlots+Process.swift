import Foundation
import CeleryProtocol
import Redis
import Synchronization

extension RedisWorker {
    /// One message in a slot: decode and triage it (``TaskTriage``, with the revoked set), and for a redelivery
    /// look for a stored `SUCCESS`; run it (``TaskRunner``); map the outcome, or why it was not run, to a
    /// settlement (``TaskSettlementRules``). The settlement is made by the slot with its next fetch.
    func process(
        _ delivery: RedisDelivery,
        state slotState: SlotState,
        backend: RedisConnection?,
        on connection: isolated RedisConnection
    ) async -> SettledTask {
        let start = ContinuousClock.now
        let now = Date()
        let run: TaskTriage.Run
        func skip(_ skip: TaskSkip) -> SettledTask { rules.settlement(for: skip, delivery: delivery, now: now, start: start) }
        switch triage.triage(delivery.raw, queue: delivery.queue, now: now, isRevoked: { revoked.contains($0, now: now) }) {
        case .run(let decided):
            run = decided
        case .deadLetter(let rejection):
            return skip(.rejected(rejection))
        case .expired(let message, let name):
            return skip(.expired(message, name: name))
        case .delay(let message, let name, let eta):
            return skip(.scheduled(message, name: name, until: eta))
        case .revoked(let message, let name):
            taskEvents.received(message, name: name)
            return skip(.revoked(message, name: name))
        }
        let message = run.message
        let name = run.name
        if CeleryQueue.returnListKey(for: message, fetchedFrom: nil) != delivery.listKey {
            // Its routing names another list: record where it came from, so that a reaper returns it there.
            try? broker.recordSource(delivery, on: connection)
        }
        guard let handler = handlers[name] else {
            // The registry is built from the handlers; unreachable, but never a trap.
            return skip(.noHandler(message, name: name))
        }
        if run.checkStoredSuccess, await storedSuccess(taskID: message.id, backend: backend, on: connection) {
            return skip(.duplicate(message, name: name))
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
            guard admitted else { return skip(.suspectDeferred(message, name: name)) }
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
        let outcome = await runner.run(handler, invocation, timeLimit: run.timeLimit, isolation: connection) {
            // The handler suspended: it may take a while. It cannot resume before this slot suspends (both are
            // isolated to the connection), so settle the finished tasks and release the rest of the batch first.
            await self.taskBlocks(slotState, backend: backend, on: connection)
        }
        activeTasks.ended(id: message.id, name: name)
        metrics.taskEnded()
        var settled = rules.settlement(for: outcome, delivery: delivery, message: message, name: name, now: Date(), start: start)
        settled.report?.runtime = ContinuousClock.now - began
        return settled
    }

    private func storedSuccess(taskID: String, backend: RedisConnection?, on connection: isolated RedisConnection) async -> Bool {
        do {
            if let backend {
                return try await broker.results.fetch(taskID: taskID, on: backend).result.state == .success
            }
            return try broker.results.fetch(taskID: taskID, on: connection).result.state == .success
        } catch {
            // Unknown: run it; the cycle script's guard keeps a stored SUCCESS anyway.
            return false
        }
    }
}
