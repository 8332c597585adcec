import CeleryProtocol
import Synchronization

/// How a task's run ended.
enum TaskOutcome: Sendable {
    /// The handler returned this value.
    case success(JSONValue)
    /// The handler threw (not because this runner cancelled it).
    case failed(any Error)
    /// This runner cancelled the handler, for this reason.
    case cancelled(TaskCancelReason)
}

/// Why a running handler was cancelled.
enum TaskCancelReason: Sendable, Hashable {
    /// The worker is stopping (shutdown timeout passed, or a second shutdown request).
    case shutdown
    /// The soft time limit (seconds, as given) passed first.
    case softTimeLimit(Double)
    /// The hard time limit (seconds, as given) passed first.
    case hardTimeLimit(Double)
    /// `revoke(terminate=True)` / `oauthq revoke --terminate`.
    case revoked
}

/// Runs task handlers, one at a time per slot, and owns their time limits and cancellation: the only place a
/// handler's task is created or cancelled.
///
/// A handler starts with `Task.immediate`, isolated to the caller's actor (the slot's broker connection): a
/// handler that never suspends (ping) runs to completion inside ``run(_:_:timeLimit:isolation:whenSuspended:)``
/// without an executor hop. When it does suspend, `whenSuspended` runs first (the slot settles what is finished
/// and returns the rest of its batch); the handler cannot resume before that, since both share the isolation.
/// The runner does no broker I/O itself.
final class TaskRunner: Sendable {
    /// A slot's running handler: how to cancel it, and why it was cancelled (the first reason wins).
    private struct Running: Sendable {
        /// Which run this is: a time limit cancels only the run that armed it, never the slot's next one.
        var run: UInt64
        var cancel: @Sendable () -> Void
        var reason: TaskCancelReason?
    }

    private struct State: Sendable {
        var running: [Int: Running] = [:]
        /// Set by ``abort()``: every running handler is cancelled, and every later one starts cancelled.
        var aborting = false
        var nextRun: UInt64 = 0
    }

    private let state = Mutex(State())

    init() {}

    /// Handlers running now.
    var runningCount: Int { state.withLock { $0.running.count } }

    /// Whether ``abort()`` was called.
    var isAborting: Bool { state.withLock { $0.aborting } }

    /// Runs `handler` for `invocation` in its slot (`invocation.slot`), under `timeLimit`.
    /// - Parameters:
    ///   - isolation: the actor the handler starts on (the slot's broker connection).
    ///   - whenSuspended: called once, on `isolation`, when the handler suspends before finishing.
    /// - Returns: how it ended; a cancellation by this runner is ``TaskOutcome/cancelled(_:)`` whatever the
    ///   handler threw.
    func run(
        _ handler: @escaping JobHandler,
        _ invocation: JobInvocation,
        timeLimit: TaskTriage.TimeLimitPlan?,
        isolation: isolated any Actor,
        whenSuspended: () async -> Void
    ) async -> TaskOutcome {
        let slot = invocation.slot
        let completion = Completion()
        let job = Task.immediate {
            isolation.assertIsolated()
            defer { completion.finish() }
            return try await handler(invocation)
        }
        let (run, abortNow) = state.withLock { state -> (UInt64, Bool) in
            state.nextRun &+= 1
            state.running[slot] = Running(run: state.nextRun, cancel: { job.cancel() }, reason: state.aborting ? .shutdown : nil)
            return (state.nextRun, state.aborting)
        }
        if abortNow { job.cancel() }

        var timer: Task<Void, Never>?
        if let timeLimit {
            let reason: TaskCancelReason = timeLimit.kind == .hard ? .hardTimeLimit(timeLimit.seconds) : .softTimeLimit(timeLimit.seconds)
            timer = Task { [self] in
                try? await Task.sleep(for: timeLimit.duration)
                if Task.isCancelled { return }
                _ = cancel(slot: slot, reason: reason, onlyRun: run)
            }
        }
        if !completion.isFinished {
            await whenSuspended()
        }
        let result = await job.result
        timer?.cancel()
        let reason = state.withLock { $0.running.removeValue(forKey: slot)?.reason }
        switch result {
        case .success(let value):
            return .success(value)
        case .failure(let error):
            if let reason { return .cancelled(reason) }
            return .failed(error)
        }
    }

    /// Cancels the handler running in `slot` as revoked; returns whether one was running (and not already
    /// being cancelled).
    func terminate(slot: Int) -> Bool {
        cancel(slot: slot, reason: .revoked)
    }

    /// Cancels every running handler (reason ``TaskCancelReason/shutdown`` unless one was given already), and
    /// every handler started from now on.
    func abort() {
        let cancels = state.withLock { state -> [@Sendable () -> Void] in
            state.aborting = true
            for slot in state.running.keys where state.running[slot]?.reason == nil {
                state.running[slot]?.reason = .shutdown
            }
            return state.running.values.map(\.cancel)
        }
        cancels.forEach { $0() }
    }

    private func cancel(slot: Int, reason: TaskCancelReason, onlyRun: UInt64? = nil) -> Bool {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            guard let running = state.running[slot], running.reason == nil, onlyRun.map({ $0 == running.run }) ?? true else {
                return nil
            }
            state.running[slot]?.reason = reason
            return running.cancel
        }
        cancel?()
        return cancel != nil
    }

    /// Whether a handler's task has finished, readable without awaiting it.
    private final class Completion: Sendable {
        private let done = Atomic<Bool>(false)
        func finish() { done.store(true, ordering: .releasing) }
        var isFinished: Bool { done.load(ordering: .acquiring) }
    }
}
