public import Foundation
public import CeleryProtocol
import Synchronization

/// The tasks a worker runs now (for `inspect active`, `query_task` and `revoke --terminate`) and how many of each
/// name it has finished (for `stats`' `total`). A slot records only references (the decoded message is shared,
/// not copied); the inspect entries are built when someone asks.
public final class ActiveTasks: Sendable {
    private struct Entry {
        var slot: Int
        var message: CeleryMessage
        var name: String
        var queue: String
        var timeStart: Double
    }

    private struct State {
        var running: [String: Entry] = [:]
        var totals: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private let pid = ProcessInfo.processInfo.processIdentifier

    public init() {}

    public func began(_ message: CeleryMessage, name: String, queue: String, slot: Int, at start: Date = Date()) {
        let entry = Entry(slot: slot, message: message, name: name, queue: queue, timeStart: start.timeIntervalSince1970)
        state.withLock { $0.running[message.id] = entry }
    }

    public func ended(id: String, name: String) {
        state.withLock { state in
            state.running[id] = nil
            state.totals[name, default: 0] &+= 1
        }
    }

    /// The running tasks as inspect entries, oldest first.
    public var running: [InspectTask] {
        let entries = state.withLock { Array($0.running.values) }
        return entries.sorted { $0.timeStart < $1.timeStart }.map {
            InspectTask(message: $0.message, name: $0.name, queue: $0.queue, timeStart: $0.timeStart, workerPID: pid)
        }
    }

    /// The slot running task `id`, if it runs here.
    public func slot(of id: String) -> Int? {
        state.withLock { $0.running[id]?.slot }
    }

    public var totals: [String: Int] { state.withLock { $0.totals } }
}
