import CivilCalendar
import Foundation
public import CeleryProtocol
import Logging
import Redis
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Sends Celery task events (`celery worker -E`, or the `enable_events` control command) on the same events
/// exchange as the worker heartbeats, for Flower and `celery events`.
///
/// Off, an event costs one atomic load. On, a slot only appends the event to a buffer; this emitter's own
/// connection (an actor on its own thread) publishes the buffer in pipelines, so events never add a round trip to
/// a slot. Events are best effort, as in Celery: while Redis is unreachable the buffer keeps the newest
/// ``maximumBuffered`` and drops older ones.
public final class TaskEventEmitter: Sendable {
    public static let maximumBuffered = 10_000
    /// Arguments and results are shown as Celery's `saferepr` with this budget.
    public static let reprLength = 1024

    private let enabled: Atomic<Bool>
    private let clock = Atomic<Int64>(0)
    private let buffer = Mutex<[(CeleryTaskEvent, Date)]>([])
    private let signal: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    let hostname: String
    let database: Int
    private let pid = getpid()
    private let utcOffset = CeleryWorkerEvent.utcOffsetHours()

    public init(hostname: String, database: Int, enabled: Bool) {
        self.hostname = hostname
        self.database = database
        self.enabled = Atomic(enabled)
        (signal, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether events are sent now.
    public var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// `enable_events` / `disable_events`. Returns whether it changed.
    @discardableResult
    public func setEnabled(_ on: Bool) -> Bool {
        enabled.exchange(on, ordering: .relaxed) != on
    }

    /// Queues an event (when enabled).
    public func emit(_ event: @autoclosure () -> CeleryTaskEvent) {
        guard isEnabled else { return }
        let made = event()
        let now = Date()
        buffer.withLock { buffer in
            if buffer.count >= Self.maximumBuffered { buffer.removeFirst(buffer.count - Self.maximumBuffered + 1) }
            buffer.append((made, now))
        }
        wake.yield()
    }

    // MARK: - What a worker reports

    /// `task-received` then `task-started`, as a message starts running.
    public func started(_ message: CeleryMessage, name: String) {
        guard isEnabled else { return }
        emit(Self.received(message, name: name))
        emit(.started(uuid: message.id))
    }

    /// `task-received`, for a message that will not run now (revoked, parked until its ETA, rejected).
    public func received(_ message: CeleryMessage, name: String) {
        guard isEnabled else { return }
        emit(Self.received(message, name: name))
    }

    /// The event for how a task ended, from the worker's settlement and log state.
    public func finished(id: String, state: String, settlement: RedisSettlement, runtime: Duration?, note: String?) {
        guard isEnabled else { return }
        switch (state, settlement) {
        case ("SUCCESS", _):
            let value = settlement.result?.result ?? .null
            emit(.succeeded(uuid: id, result: value.celerySafeRepr(maxLength: Self.reprLength), runtime: Self.seconds(runtime)))
        case ("FAILURE", _):
            let (exception, traceback) = Self.exception(settlement.result, note: note)
            emit(.failed(uuid: id, exception: exception, traceback: traceback))
        case ("RETRY", _):
            let (exception, traceback) = Self.exception(settlement.result, note: note)
            emit(.retried(uuid: id, exception: exception, traceback: traceback))
        case ("REVOKED", _):
            emit(.revoked(uuid: id, terminated: note == "terminated", expired: note == "expired"))
        case ("DEAD-LETTERED", _):
            emit(.rejected(uuid: id, requeue: false))
            let (exception, traceback) = Self.exception(settlement.result, note: note)
            emit(.failed(uuid: id, exception: exception, traceback: traceback))
        case ("REQUEUED", _):
            emit(.rejected(uuid: id, requeue: true))
        default:
            break
        }
    }

    static func received(_ message: CeleryMessage, name: String) -> CeleryTaskEvent {
        // The sender's own `argsrepr`/`kwargsrepr` headers win (Celery shows them, and senders use them to hide
        // values); else the arguments with secret-looking keyword values masked.
        let args = message.headers["argsrepr"]?.stringValue.map { String($0.prefix(reprLength)) }
            ?? Self.tupleRepr(JSONValue.array(message.args.map(InspectTask.masked)).celerySafeRepr(maxLength: reprLength), count: message.args.count)
        let kwargs = message.headers["kwargsrepr"]?.stringValue.map { String($0.prefix(reprLength)) }
            ?? JSONValue.object(InspectTask.maskedObject(message.kwargs)).celerySafeRepr(maxLength: reprLength)
        return .received(
            uuid: message.id, name: name, args: args, kwargs: kwargs, retries: message.retries, eta: message.eta,
            expires: message.expires, rootID: message.rootID, parentID: message.parentID
        )
    }

    /// `Type('message')` and a one-line traceback from a stored exception, else the log note.
    static func exception(_ result: CeleryResult?, note: String?) -> (String, String) {
        if let exception = result?.exception {
            let text = exception.type + "(" + exception.messages.map { $0.celerySafeRepr(maxLength: reprLength) }.joined(separator: ", ") + ")"
            return (text, result?.traceback ?? text)
        }
        let text = "Exception(" + JSONValue.string(note ?? "unknown").celerySafeRepr(maxLength: reprLength) + ")"
        return (text, text)
    }

    /// Celery's `args` repr is a tuple's: `(1, 2)`, `(1,)`, `()`, from the list repr `[1, 2]`.
    static func tupleRepr(_ list: String, count: Int) -> String {
        guard list.first == "[", list.last == "]" else { return list }
        let inner = list.dropFirst().dropLast()
        return "(" + inner + (count == 1 && !inner.hasSuffix("...") ? "," : "") + ")"
    }

    static func seconds(_ duration: Duration?) -> Double {
        duration?.seconds ?? 0
    }

    // MARK: - Publishing

    /// Publishes buffered events until cancelled (then once more, best effort). The connection is opened when the
    /// first event is buffered, and reopened through `reconnector` after an error.
    func run(broker: RedisConfiguration, reconnector: RedisReconnector) async {
        var iterator = signal.makeAsyncIterator()
        await reconnector.run(
            open: { () async throws -> RedisConnection in
                while buffer.withLock({ $0.isEmpty }) {
                    if await iterator.next() == nil || Task.isCancelled { throw CancellationError() }
                }
                return try await RedisConnection.connect(broker)
            },
            close: { await $0.close() },
            session: { connection, attempt in
                attempt.connected()
                while !Task.isCancelled {
                    if buffer.withLock({ $0.isEmpty }) {
                        _ = await iterator.next()
                        continue
                    }
                    try await publishBuffered(on: connection)
                }
                try? await publishBuffered(on: connection)
            }
        )
    }

    private func publishBuffered(on connection: RedisConnection) async throws {
        while true {
            let events = buffer.withLock { buffer -> [(CeleryTaskEvent, Date)] in
                let taken = Array(buffer.prefix(256))
                buffer.removeFirst(taken.count)
                return taken
            }
            if events.isEmpty { return }
            let commands = events.map { event, timestamp -> [[UInt8]] in
                let clock = clock.wrappingAdd(1, ordering: .relaxed).newValue
                let envelope = event.envelope(hostname: hostname, pid: pid, clock: clock, timestamp: timestamp, utcOffset: utcOffset)
                return [Array("PUBLISH".utf8), Array(event.channel(database: database).utf8), envelope.serialized()]
            }
            let replies = try await connection.pipeline(commands)
            if let message = replies.compactMap(\.errorMessage).first { throw RedisError(.server, "task events: \(message)") }
        }
    }
}

/// The task-event publisher as a service of the worker's group: a graceful shutdown publishes what is buffered
/// and ends it.
struct TaskEventPublisher: Service {
    let emitter: TaskEventEmitter
    let reconnector: RedisReconnector
    let broker: RedisConfiguration

    func run() async {
        let (emitter, reconnector, broker) = (emitter, reconnector, broker)
        await cancelWhenGracefulShutdown {
            await emitter.run(broker: broker, reconnector: reconnector)
        }
    }
}

extension RedisSettlement {
    /// The result a settlement stores, if any.
    var result: CeleryResult? {
        switch self {
        case .ack(let result): return result
        case .ackExpiring(let result, _): return result
        case .delay(_, _, _, let result): return result
        case .deadLetter(_, let result): return result
        case .requeue: return nil
        }
    }
}
