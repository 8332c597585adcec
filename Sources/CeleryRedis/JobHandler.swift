public import CeleryProtocol

/// One run of a task, as a ``JobHandler`` receives it.
public struct JobInvocation: Sendable {
    /// The decoded message (`args`, `kwargs`, `retries`, …). Never log its arguments: they may hold secrets.
    public let message: CeleryMessage
    /// The task name after aliases were applied (the name the handler was registered under).
    public let taskName: String
    /// The slot running it (0..<concurrency): handlers keep per-slot resources (a database connection)
    /// indexed by it; a slot runs one invocation at a time.
    public let slot: Int
    /// The queue it was fetched from.
    public let queue: String

    public init(message: CeleryMessage, taskName: String, slot: Int, queue: String) {
        self.message = message
        self.taskName = taskName
        self.slot = slot
        self.queue = queue
    }
}

/// Runs one task and returns its JSON result (stored as `SUCCESS`), or throws.
///
/// Throw ``JobError`` to choose what happens; any other error is stored as a `FAILURE`
/// (`RuntimeError(<description>)`). The handler is cancelled when its time limit passes or the worker
/// aborts on shutdown: it should let `CancellationError` (or a cancelled query) propagate.
///
/// Handlers are `nonisolated(nonsending)`: they start on the caller's executor (the slot's Redis connection
/// thread), so a handler that never suspends costs no thread hop; one that awaits a database hops to it.
public typealias JobHandler = nonisolated(nonsending) @Sendable (JobInvocation) async throws -> JSONValue

/// How a task failed, and what the worker should do about it.
public struct JobError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the worker does.
    public enum Kind: Sendable, Hashable {
        /// The message cannot be run as sent (wrong arguments): dead-letter it and store a `FAILURE`.
        case invalidArguments
        /// The task failed for good: store a `FAILURE`.
        case failure
        /// The task may succeed later (a lost connection, a serialization failure, a deadlock): retry it
        /// with backoff while retries remain (store `RETRY`), then store a `FAILURE`.
        case transient
        /// Another live run is doing this very work right now (a redelivered duplicate found the task's lock
        /// taken, e.g. after its first worker was paused past the heartbeat TTL): store nothing, spend no retry,
        /// and deliver the message again after ``JobError/busyDelay``, when the stored result of the run that
        /// did the work will make it a no-op.
        case busy
    }

    /// How long a ``Kind/busy`` message waits before it is delivered again.
    public static let busyDelay: Duration = .seconds(2)

    public var kind: Kind
    /// The exception as Python will see it.
    public var exception: CeleryResult.ExceptionInfo
    /// An optional traceback text for the result.
    public var traceback: String?

    public init(_ kind: Kind, exception: CeleryResult.ExceptionInfo, traceback: String? = nil) {
        self.kind = kind
        self.exception = exception
        self.traceback = traceback
    }

    /// `TypeError(message)`, dead-lettered (as Python raises for a bad call signature).
    public static func invalidArguments(_ message: String) -> JobError {
        JobError(.invalidArguments, exception: .init(type: "TypeError", module: "builtins", messages: [.string(message)]))
    }

    /// A permanent failure with a Python exception `module.type(*messages)`.
    public static func failure(type: String, module: String? = "builtins", messages: [JSONValue]) -> JobError {
        JobError(.failure, exception: .init(type: type, module: module, messages: messages))
    }

    /// A transient failure with a Python exception `module.type(*messages)`.
    public static func transient(type: String, module: String? = "builtins", messages: [JSONValue]) -> JobError {
        JobError(.transient, exception: .init(type: type, module: module, messages: messages))
    }

    /// A live duplicate: deliver again later (see ``Kind/busy``).
    public static func busy(_ message: String) -> JobError {
        JobError(.busy, exception: .init(type: "AlreadyRunning", module: nil, messages: [.string(message)]))
    }

    public var description: String {
        "JobError(\(kind), \(exception.module.map { $0 + "." } ?? "")\(exception.type))"
    }
}
