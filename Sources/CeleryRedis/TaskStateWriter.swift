import Foundation
public import CeleryProtocol
public import Redis
import Synchronization

/// Writes the states of a running task to the result backend, as Celery does with `task_track_started`
/// and `Task.update_state`: `STARTED` (`{"pid", "hostname"}`) when it begins, then the latest `PROGRESS`
/// meta the task reported, at most once per ``interval``. A Python caller polls `AsyncResult(id).state`
/// and `.info`.
///
/// The task never touches Redis: it hands its progress to a ``TaskProgressSink`` (a non-blocking store
/// of the latest value), and this writer, on its own backend connection, does the I/O. Every write has
/// finished before ``tracking(_:_:)`` returns, so none can land after the task's final state; the
/// store script never overwrites a stored `SUCCESS`; and a task cancelled by a shutdown (returned to
/// its queue unrun) has its `STARTED`/`PROGRESS` removed, so it reads as pending again. Writes are best effort: a backend error drops the
/// connection (reopened on the next write) and never fails the task.
public final class TaskStateWriter: Sendable {
    private let backend: RedisConfiguration
    private let resultExpires: Int
    private let hostname: String
    /// The shortest time between two `PROGRESS` writes of one task.
    public let interval: Duration
    private let connection = Mutex<RedisConnection?>(nil)

    public init(backend: RedisConfiguration, resultExpires: Int, hostname: String, interval: Duration = .seconds(1)) {
        self.backend = backend
        self.resultExpires = resultExpires
        self.hostname = hostname
        self.interval = interval
    }

    /// Runs `body` with a sink for its progress: `STARTED` is written first, then `PROGRESS` at most
    /// once per ``interval`` while it runs. Nothing is written for a message with `ignore_result`.
    public func tracking<T: Sendable>(
        _ invocation: JobInvocation,
        _ body: (TaskProgressSink) async throws -> T
    ) async throws -> T {
        let sink = TaskProgressSink()
        guard !invocation.message.ignoreResult else { return try await body(sink) }
        let taskID = invocation.message.id
        await write(.started(taskID: taskID, pid: Int(ProcessInfo.processInfo.processIdentifier), hostname: hostname))
        let pump = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if let meta = sink.take() {
                    await write(CeleryResult(taskID: taskID, state: CeleryResult.State(rawValue: "PROGRESS"), result: meta))
                }
            }
        }
        do {
            let value = try await body(sink)
            pump.cancel()
            await pump.value
            return value
        } catch {
            pump.cancel()
            await pump.value
            // Cancelled by a shutdown, the message goes back to its queue unrun: it is pending again,
            // not started. (A time limit's FAILURE is written after this returns.)
            if Task.isCancelled { await forget(taskID: taskID) }
            throw error
        }
    }

    /// Removes the `STARTED`/`PROGRESS` state this writer stored (never a final state).
    private func forget(taskID: String) async {
        do {
            let open = try await openConnection()
            let key = CeleryResult.key(taskID: taskID)
            guard let bytes = try await open.command("GET", key).bytes,
                let stored = try? CeleryResult.decode(bytes).get(),
                stored.state == .started || stored.state.rawValue == "PROGRESS"
            else { return }
            _ = try await open.command("DEL", key)
        } catch {
            connection.withLock { $0 = nil }
        }
    }

    private func write(_ result: CeleryResult) async {
        do {
            let open = try await openConnection()
            _ = try await RedisResultBackend(resultExpires: resultExpires).store(result, on: open)
        } catch {
            connection.withLock { $0 = nil }
        }
    }

    private func openConnection() async throws -> RedisConnection {
        if let open = connection.withLock({ $0 }) { return open }
        let opened = try await RedisConnection.connect(backend)
        connection.withLock { $0 = opened }
        return opened
    }
}

/// Where a running task puts its progress: only the latest value is kept until the writer takes it.
public final class TaskProgressSink: Sendable {
    private let latest = Mutex<JSONValue?>(nil)

    public init() {}

    /// Replaces the pending progress meta (never blocks, never does I/O).
    public func report(_ meta: JSONValue) {
        latest.withLock { $0 = meta }
    }

    /// The pending meta, cleared.
    func take() -> JSONValue? {
        latest.withLock { value in
            defer { value = nil }
            return value
        }
    }
}
