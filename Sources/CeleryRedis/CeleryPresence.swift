import CivilCalendar
import Foundation
import CeleryProtocol
import Logging
import Redis
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Makes a worker visible to Celery's own tools over the broker, as a Celery 5.7 worker does
/// (docs/architecture.md#events-and-remote-control-pidbox): `worker-online` at start, `worker-heartbeat` every ``frequency``, `worker-offline` when it stops
/// (`PUBLISH /<db>.celeryev/worker.<kind>`), and answers remote-control `ping` (`celery inspect ping`,
/// `celery status`) and `heartbeat` (`celery events`' wake-up) on `/<db>.celery.pidbox`, with its node's
/// binding in `_kombu.binding.celery.pidbox` registered at start and removed at the end.
///
/// Two connections of its own (actors on dedicated threads): a subscriber, which can run no other command, and
/// a publisher for events, replies and the binding. Either failing (Redis restarted) drops both and reconnects
/// through the worker's ``RedisReconnector``; the worker's task slots are never involved. A service of the
/// worker's group: a graceful shutdown ends it (after `worker-offline`).
final class CeleryPresence: Service {
    /// What the heartbeats report: tasks running now and finished so far.
    typealias Counts = @Sendable () -> (active: Int, processed: Int)

    let broker: RedisConfiguration
    let hostname: String
    let frequency: Duration
    let softwareVersion: String
    private let reconnector: RedisReconnector
    private let counts: Counts
    private let logger: Logger
    /// Answers the remote-control requests beyond ping and heartbeat; nil: Celery's unknown-command reply.
    private let control: WorkerControl?

    init(
        broker: RedisConfiguration, hostname: String, frequency: Duration, softwareVersion: String,
        reconnector: RedisReconnector, counts: @escaping Counts, logger: Logger, control: WorkerControl? = nil
    ) {
        self.control = control
        self.broker = broker
        self.hostname = hostname
        self.frequency = frequency
        self.softwareVersion = softwareVersion
        self.reconnector = reconnector
        self.counts = counts
        self.logger = logger
    }

    /// The largest pidbox message read; larger ones are ignored unread (a ping request is a few hundred bytes).
    static let maximumPidboxBytes = 64 << 10

    /// How long the kombu binding deadline is pushed ahead (kombu 5.7: one hour, renewed while it lives).
    static let bindingLifetimeMilliseconds: Int64 = 3_600_000

    /// The loop's own state; only its task touches it.
    private final class LoopState: @unchecked Sendable {
        // @unchecked Sendable: used by the presence task only, one step at a time.
        var subscriber: RedisConnection?
        var publisher: RedisConnection?
        var clock = LamportClock()
        var onlineSent = false
        var nextBeat = ContinuousClock.now

        func tick() -> Int64 {
            clock.tick()
        }
    }

    /// Runs until a graceful shutdown or cancellation, then sends `worker-offline` and removes the binding (when
    /// Redis is reachable).
    func run() async {
        await cancelWhenGracefulShutdown { await self.loop() }
    }

    /// Runs until the task is cancelled, then sends `worker-offline` and removes the binding.
    func loop() async {
        let state = LoopState()
        await reconnector.run(
            open: {
                do {
                    try await self.open(state)
                } catch {
                    await Self.close(state)
                    throw error
                }
            },
            close: { _ in await Self.close(state) },
            session: { _, attempt in
                attempt.connected()
                while !Task.isCancelled {
                    try await self.step(state)
                }
            }
        )
        await stop(state)
    }

    private static func close(_ state: LoopState) async {
        await state.subscriber?.close()
        await state.publisher?.close()
        state.subscriber = nil
        state.publisher = nil
    }

    /// Connects the publisher (registering the binding) and the subscriber (subscribed to the pidbox).
    private func open(_ state: LoopState) async throws {
        if state.publisher == nil {
            let publisher = try await RedisConnection.connect(broker)
            state.publisher = publisher
            try await register(on: publisher)
        }
        if state.subscriber == nil {
            let subscriber = try await RedisConnection.connect(broker)
            state.subscriber = subscriber
            _ = try await subscriber.command([Array("PSUBSCRIBE".utf8), Array(PidboxRequest.channel(database: broker.database).utf8)])
        }
    }

    private func step(_ state: LoopState) async throws {
        guard let publisher = state.publisher, let subscriber = state.subscriber else { return }
        if !state.onlineSent {
            try await publish(.online, clock: state.tick(), on: publisher)
            state.onlineSent = true
            state.nextBeat = ContinuousClock.now + frequency
        }
        if ContinuousClock.now >= state.nextBeat {
            try await publish(.heartbeat, clock: state.tick(), on: publisher)
            try await register(on: publisher)
            state.nextBeat = ContinuousClock.now + frequency
        }
        let wait = min(max(state.nextBeat - ContinuousClock.now, .milliseconds(1)), .milliseconds(250))
        guard let pushed = try await subscriber.nextReply(timeout: wait) else { return }
        // ["pmessage", pattern, channel, payload]
        guard let parts = pushed.array, parts.count == 4, parts[0].string == "pmessage", let payload = parts[3].bytes else {
            return
        }
        try await handle(payload, state: state, on: publisher)
    }

    /// One pidbox message: handled when it is a request addressed to this node.
    private func handle(_ payload: [UInt8], state: LoopState, on publisher: RedisConnection) async throws {
        guard payload.count <= Self.maximumPidboxBytes, let envelope = KombuEnvelope.decode(payload),
            let request = PidboxRequest(body: envelope.body)
        else {
            logger.debug("celery events: ignored an unreadable pidbox message")
            return
        }
        if let clock = envelope.headers["clock"]?.intValue { state.clock.observe(clock) }
        guard request.isAddressed(to: hostname) else { return }
        let reply: JSONValue
        switch request.method {
        case "ping":
            reply = ["ok": "pong"]
        case "heartbeat":
            // `celery events` wakes workers up: send a heartbeat now (Celery's handler replies nothing useful).
            try await publish(.heartbeat, clock: state.tick(), on: publisher)
            reply = .null
        default:
            if let control {
                reply = try await control.reply(method: request.method, arguments: request.arguments, clock: state.clock.value, on: publisher)
                // Celery's worker answers `shutdown` with no reply at all.
                if request.method == "shutdown" { return }
            } else {
                reply = InspectReplies.unknownCommand(request.method)
            }
        }
        guard let message = request.reply(reply, hostname: hostname, clock: state.tick()), let replyTo = request.replyTo else { return }
        // kombu's direct-exchange lookup: the queues bound to the reply exchange with the client's routing key.
        let bindings = try await publisher.command("SMEMBERS", "_kombu.binding." + replyTo.exchange).array ?? []
        let bytes = message.serialized()
        for member in bindings.compactMap(\.string) {
            let parts = member.components(separatedBy: CeleryQueue.separator)
            guard parts.count == 3, parts[0] == replyTo.routingKey, !parts[2].isEmpty else { continue }
            _ = try await publisher.command([Array("LPUSH".utf8), Array(parts[2].utf8), bytes])
        }
    }

    private func publish(_ kind: CeleryWorkerEvent.Kind, clock: Int64, on publisher: RedisConnection) async throws {
        let (active, processed) = counts()
        let event = CeleryWorkerEvent(
            kind: kind, hostname: hostname, pid: getpid(), clock: clock, frequency: frequency.seconds,
            active: active, processed: processed, loadAverage: Self.loadAverage(), softwareVersion: softwareVersion
        )
        _ = try await publisher.command(
            [Array("PUBLISH".utf8), Array(event.channel(database: broker.database).utf8), event.envelope().serialized()]
        )
    }

    /// Adds this node's member to the pidbox binding and pushes the binding's deadline ahead, as kombu 5.7's
    /// declare script does (`SADD`, then `ZADD _kombu.binding_deadlines GT <now + 1 h> celery.pidbox`).
    private func register(on publisher: RedisConnection) async throws {
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + Self.bindingLifetimeMilliseconds
        let replies = try await publisher.pipeline([
            [Array("SADD".utf8), Array(PidboxRequest.bindingKey.utf8), Array(PidboxRequest.bindingMember(hostname: hostname).utf8)],
            [Array("ZADD".utf8), Array("_kombu.binding_deadlines".utf8), Array("GT".utf8), Array(String(deadline).utf8), Array("celery.pidbox".utf8)],
        ])
        if let message = replies.compactMap(\.errorMessage).first { throw RedisError(.server, message) }
    }

    /// Removes the binding member and sends `worker-offline`, on the publisher (or a new connection).
    private func stop(_ state: LoopState) async {
        await state.subscriber?.close()
        var publisher = state.publisher
        do {
            if publisher == nil {
                publisher = try await RedisConnection.connect(broker)
            }
            guard let publisher else { return }
            let member = Array(PidboxRequest.bindingMember(hostname: hostname).utf8)
            _ = try await publisher.pipeline([
                [Array("SREM".utf8), Array(PidboxRequest.bindingKey.utf8), member],
                [Array("SREM".utf8), Array(PidboxRequest.permanentBindingKey.utf8), member],
            ])
            if state.onlineSent {
                try await publish(.offline, clock: state.tick(), on: publisher)
            }
        } catch {
            logger.warning("celery events: could not send worker-offline: \(error)")
        }
        await publisher?.close()
    }

    private static func loadAverage() -> [Double] {
        var values = [Double](repeating: 0, count: 3)
        let count = getloadavg(&values, 3)
        return count == 3 ? values : [0, 0, 0]
    }

    /// A method name from the network, for a log line: control characters escaped, at most 100 characters.
    private static func printable(_ text: String) -> String {
        PrintableText.escaped(text)
    }
}
