public import Foundation
public import CeleryProtocol
public import Logging
public import Redis

#if canImport(Glibc)
import CivilCalendar
import Glibc
#endif

/// Answers Celery's remote-control requests beyond `ping` and `heartbeat` for one worker, in Celery 5.7's reply
/// shapes (``InspectReplies``): `stats`, `active`, `reserved`, `scheduled`, `registered`, `active_queues`,
/// `revoked`, `conf`, `query_task`, `report`, `revoke`, `terminate`, `revoke_by_stamped_headers` (refused),
/// `cancel_consumer`, `add_consumer`, `enable_events`, `disable_events`, `shutdown`, and oauthq's own
/// `oauthq_queues_changed` (sent by `oauthq queues pause|resume`). Anything else gets Celery's unknown-command
/// reply.
public struct WorkerControl: Sendable {
    /// What the worker lends the control handler.
    public struct Context: Sendable {
        public var hostname: String
        public var keyPrefix: String
        public var queues: [String]
        public var concurrency: Int
        public var prefetch: Int
        public var registered: [String]
        public var broker: RedisConfiguration
        public var softwareVersion: String
        public var started: Date
        public var revokeTTL: Duration
        /// This worker's processing lists (one per slot).
        public var processingKeys: [String]
        public var delayedKey: String
        /// The broker model, for storing `REVOKED` results.
        public var redisBroker: RedisBroker
        /// Whether results live on the broker connection (no separate backend): then a revoke stores `REVOKED`
        /// at once; otherwise the worker stores it when it meets the message.
        public var resultsOnBroker: Bool
        public var revoked: RevokedSet
        public var pauses: QueuePauses
        public var active: ActiveTasks
        public var events: TaskEventEmitter
        /// Cancels the running task `id` as revoked; returns whether it ran here.
        public var terminate: @Sendable (String) -> Bool
        /// A warm shutdown (as SIGTERM).
        public var shutdown: @Sendable () -> Void
    }

    public let context: Context
    let logger: Logger
    /// The most entries `reserved`/`scheduled` read and report.
    public static let maximumListed = 1_000

    public init(context: Context, logger: Logger) {
        self.context = context
        self.logger = logger
    }

    /// The reply to `method` (`.null` for a request that wants none), using `connection` for Redis reads and writes.
    public func reply(method: String, arguments: JSONObject, clock: Int64, on connection: RedisConnection) async throws -> JSONValue {
        let hostname = context.hostname
        switch method {
        case "stats":
            return InspectReplies.stats(stats(clock: clock))
        case "active":
            return .array(context.active.running.map { $0.info(hostname: hostname) })
        case "reserved":
            return .array(try await reserved(on: connection).map { $0.info(hostname: hostname) })
        case "scheduled":
            return .array(try await scheduled(on: connection).map { InspectReplies.scheduledEntry($0, hostname: hostname) })
        case "registered":
            return .array(context.registered.sorted().map(JSONValue.string))
        case "active_queues":
            return .array(context.pauses.consumed(from: context.queues).map(InspectReplies.activeQueue))
        case "revoked":
            return .array(context.revoked.ids().map(JSONValue.string))
        case "conf":
            return conf()
        case "report":
            return InspectReplies.report(
                softwareVersion: context.softwareVersion, system: "Linux", broker: String(describing: context.broker), queues: context.queues
            )
        case "query_task":
            let ids = Set(Self.strings(arguments["ids"]))
            var found: [(state: String, task: InspectTask)] = context.active.running.filter { ids.contains($0.id) }.map { ("active", $0) }
            found += try await reserved(on: connection).filter { ids.contains($0.id) }.map { ("reserved", $0) }
            found += try await scheduled(on: connection).filter { ids.contains($0.id) }.map { ("scheduled", $0) }
            return InspectReplies.queryTask(found, hostname: hostname)
        case "revoke":
            return try await revoke(arguments, on: connection)
        case "terminate":
            // `celery control terminate SIGNAL ID…`: Celery's `revoke(terminate=True)`.
            var revokeArguments = arguments
            revokeArguments["terminate"] = true
            return try await revoke(revokeArguments, on: connection)
        case "revoke_by_stamped_headers":
            return InspectReplies.error("revoke_by_stamped_headers is not supported by oauthq: revoke by task id")
        case "cancel_consumer":
            guard let queue = Self.queueName(arguments["queue"]) else { return InspectReplies.error("no queue given") }
            context.pauses.cancelLocally(queue)
            _ = await context.pauses.waitForFetches(timeout: .seconds(2))
            logger.info("remote control: no longer consuming from \(PrintableText.escaped(queue))")
            return InspectReplies.ok("no longer consuming from \(queue)")
        case "add_consumer":
            guard let queue = Self.queueName(arguments["queue"]) else { return InspectReplies.error("no queue given") }
            context.pauses.addLocally(queue)
            logger.info("remote control: consuming from \(PrintableText.escaped(queue))")
            return InspectReplies.ok("add consumer \(queue)")
        case "enable_events":
            guard context.events.setEnabled(true) else { return InspectReplies.ok("task events already enabled") }
            logger.info("remote control: task events enabled")
            return InspectReplies.ok("task events enabled")
        case "disable_events":
            guard context.events.setEnabled(false) else { return InspectReplies.ok("task events already disabled") }
            logger.info("remote control: task events disabled")
            return InspectReplies.ok("task events disabled")
        case "shutdown":
            // Celery's worker raises WorkerShutdown and sends no reply.
            logger.warning("remote control: shutdown requested; warm shutdown")
            context.shutdown()
            return .null
        case "oauthq_queues_changed":
            _ = try await context.pauses.refresh(on: connection)
            _ = await context.pauses.waitForFetches(timeout: .seconds(2))
            return InspectReplies.ok("paused: " + context.pauses.paused.joined(separator: ","))
        default:
            logger.info("remote control: \(PrintableText.escaped(method)) is not supported")
            return InspectReplies.unknownCommand(method)
        }
    }

    /// `revoke(task_id, terminate=…)`: every id goes into the shared revoked set (with this worker's TTL); a
    /// revoked id that has no final result yet gets `REVOKED` stored, as Celery 5.7 does; with `terminate`, the
    /// ones running here are cancelled through the time-limit path.
    private func revoke(_ arguments: JSONObject, on connection: RedisConnection) async throws -> JSONValue {
        let ids = RevokedSet.acceptable(Self.strings(arguments["task_id"]))
        guard !ids.isEmpty else { return InspectReplies.error("no task id given") }
        // Running tasks are cancelled first: the Redis writes below must not delay them.
        let terminated = arguments["terminate"]?.boolValue == true ? ids.filter { context.terminate($0) } : nil
        try await context.revoked.add(ids, ttl: context.revokeTTL, on: connection)
        if context.resultsOnBroker {
            try await context.redisBroker.markRevoked(ids.filter { context.active.slot(of: $0) == nil }, on: connection)
        }
        logger.info("remote control: revoked \(ids.count) task id(s)\(terminated.map { ", terminated \($0.count)" } ?? "")")
        if let terminated { return InspectReplies.terminated(terminated) }
        return InspectReplies.revoked(ids)
    }

    private func stats(clock: Int64) -> InspectReplies.Stats {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> JSONValue { .double(Double(time.tv_sec) + Double(time.tv_usec) / 1e6) }
        let rusage: [(String, JSONValue)] = [
            ("utime", seconds(usage.ru_utime)), ("stime", seconds(usage.ru_stime)), ("maxrss", .int(Int64(usage.ru_maxrss))),
            ("ixrss", .int(Int64(usage.ru_ixrss))), ("idrss", .int(Int64(usage.ru_idrss))), ("isrss", .int(Int64(usage.ru_isrss))),
            ("minflt", .int(Int64(usage.ru_minflt))), ("majflt", .int(Int64(usage.ru_majflt))), ("nswap", .int(Int64(usage.ru_nswap))),
            ("inblock", .int(Int64(usage.ru_inblock))), ("oublock", .int(Int64(usage.ru_oublock))),
            ("msgsnd", .int(Int64(usage.ru_msgsnd))), ("msgrcv", .int(Int64(usage.ru_msgrcv))),
            ("nsignals", .int(Int64(usage.ru_nsignals))), ("nvcsw", .int(Int64(usage.ru_nvcsw))), ("nivcsw", .int(Int64(usage.ru_nivcsw))),
        ]
        var host = "localhost"
        var port = 6379
        switch context.broker.endpoint {
        case .tcp(let name, let number):
            host = name
            port = Int(number)
        case .unix(let path):
            host = path
            port = 0
        case .sentinel(let nodes):
            // A sentinel:// broker: the first sentinel stands for it.
            host = nodes.first?.host ?? host
            port = nodes.first.map { Int($0.port) } ?? 26379
        }
        return InspectReplies.Stats(
            pid: getpid(), clock: clock, uptime: max(0, Int(Date().timeIntervalSince(context.started))), concurrency: context.concurrency,
            prefetchCount: context.concurrency * context.prefetch, totals: context.active.totals, brokerHost: host, brokerPort: port,
            brokerDatabase: context.broker.database, rusage: rusage
        )
    }

    private func conf() -> JSONValue {
        [
            "broker_url": .string(String(describing: context.broker)),
            "result_backend": .string(String(describing: context.broker)),
            "worker_concurrency": .int(Int64(context.concurrency)),
            "worker_prefetch_multiplier": .int(Int64(context.prefetch)),
            "task_queues": .array(context.queues.map(JSONValue.string)),
            "worker_send_task_events": .bool(context.events.isEnabled),
            "oauthq_revoke_ttl": .double(context.revokeTTL.seconds),
            "include": .array(context.registered.sorted().map(JSONValue.string)),
        ]
    }

    /// Messages in this worker's processing lists that do not run yet (fetched in a batch).
    private func reserved(on connection: RedisConnection) async throws -> [InspectTask] {
        let commands = context.processingKeys.map { [Array("LRANGE".utf8), Array($0.utf8), Array("0".utf8), Array(String(Self.maximumListed).utf8)] }
        guard !commands.isEmpty else { return [] }
        let replies = try await connection.pipeline(commands)
        let running = Set(context.active.running.map(\.id))
        var tasks: [InspectTask] = []
        for (index, reply) in replies.enumerated() {
            for item in reply.array ?? [] {
                guard let bytes = item.bytes, case .success(let message) = CeleryMessage.decode(bytes), !running.contains(message.id) else {
                    continue
                }
                let queue = CeleryQueue.queueName(ofListKey: context.processingKeys[index])
                tasks.append(InspectTask(message: message, name: message.taskName, queue: message.routingKey ?? queue))
            }
        }
        return Array(tasks.prefix(Self.maximumListed))
    }

    /// Messages waiting for their ETA (the delayed set is shared: every worker reports those of its queues).
    private func scheduled(on connection: RedisConnection) async throws -> [InspectTask] {
        let reply = try await connection.command([
            Array("ZRANGE".utf8), Array(context.delayedKey.utf8), Array("0".utf8), Array(String(Self.maximumListed - 1).utf8),
        ])
        let queues = Set(context.pauses.consumed(from: context.queues) + context.queues)
        var tasks: [InspectTask] = []
        for item in reply.array ?? [] {
            guard let member = item.bytes, let separator = member.firstIndex(of: 0) else { continue }
            let listKey = String(decoding: member[..<separator], as: UTF8.self)
            let queue = CeleryQueue.queueName(ofListKey: listKey)
            guard queues.contains(queue), case .success(let message) = CeleryMessage.decode(Array(member[(separator + 1)...])) else { continue }
            tasks.append(InspectTask(message: message, name: message.taskName, queue: queue))
        }
        return tasks
    }

    /// A list of strings or one string (Celery accepts both for `task_id` and `ids`).
    static func strings(_ value: JSONValue?) -> [String] {
        switch value {
        case .string(let text): return [text]
        case .array(let items): return items.prefix(RevokedSet.maximumIDsPerRequest).compactMap(\.stringValue)
        default: return []
        }
    }

    static func queueName(_ value: JSONValue?) -> String? {
        guard let name = value?.stringValue, !name.isEmpty, name.utf8.count <= QueuePauses.maximumNameBytes else { return nil }
        return name
    }
}
