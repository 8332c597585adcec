import Foundation
public import JobQueue
import Synchronization

/// The tasks a worker runs now (for `inspect active`, `query_task` and `revoke --terminate`) and how many of each
/// name it has finished (for `stats`' `total`).
public final class ActiveTasks: Sendable {
    private struct State {
        var running: [String: (slot: Int, task: InspectTask)] = [:]
        var totals: [String: Int] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func began(_ task: InspectTask, slot: Int) {
        state.withLock { $0.running[task.id] = (slot, task) }
    }

    public func ended(id: String, name: String) {
        state.withLock { state in
            state.running[id] = nil
            state.totals[name, default: 0] &+= 1
        }
    }

    public var running: [InspectTask] {
        state.withLock { $0.running.values.map(\.task) }.sorted { ($0.timeStart ?? 0) < ($1.timeStart ?? 0) }
    }

    /// The slot running task `id`, if it runs here.
    public func slot(of id: String) -> Int? {
        state.withLock { $0.running[id]?.slot }
    }

    public var totals: [String: Int] { state.withLock { $0.totals } }
}
