import ArgumentParser
import Foundation
import CeleryProtocol
import CeleryRedis
import Redis

/// The options every `oauthq enqueue <task>` shares: routing, timing, identity, and waiting for the result.
///
/// Values are taken as text and checked in ``validated(now:)``, so that every bad value is a clear message with
/// exit status 2, before anything is written to Redis.
struct EnqueueOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var backend: ResultBackendOptions

    @Option(help: "The queue (default celery).")
    var queue: String = CeleryQueue.defaultQueue

    @Option(parsing: .unconditional, help: "0-9; on Redis 0 is served first (default 0).")
    var priority: String?

    @Option(parsing: .unconditional, help: "Run no earlier than SECONDS from now.")
    var countdown: String?

    @Option(parsing: .unconditional, help: "Run no earlier than this ISO-8601 time (without an offset: UTC).")
    var eta: String?

    @Option(parsing: .unconditional, help: "Revoke as expired after SECONDS from now, or after an ISO-8601 time.")
    var expires: String?

    @Option(name: .customLong("task-id"), help: "The task id (default: a new uuid4).")
    var taskID: String?

    @Option(name: .customLong("task-name"), help: "Send under this task name (an alias) instead of the default.")
    var taskName: String?

    @Flag(help: "Wait for the result and print it (subscribes before sending).")
    var wait = false

    @Option(parsing: .unconditional, help: "Seconds to wait with --wait (default 60).")
    var timeout: String?

    @Flag(help: "With --wait: print Celery's stored JSON record.")
    var json = false

    /// Everything checked and converted.
    struct Validated {
        var queue: String
        var priority: Int
        var eta: Date?
        var expires: Date?
        var taskID: String
        var timeout: Duration
    }

    func validated(now: Date) throws -> Validated {
        func usage(_ message: String) -> CommandFailure { CommandFailure(exitCode: 2, message) }
        guard !queue.isEmpty, !queue.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true })
        else { throw usage("--queue \"\(queue)\": a queue name must be non-empty, without spaces or control characters") }
        var priorityValue = 0
        if let priority {
            guard let p = Int(priority), (0...9).contains(p) else {
                throw usage("--priority \"\(priority)\": expected an integer from 0 to 9")
            }
            priorityValue = p
        }
        if countdown != nil && eta != nil { throw usage("give either --countdown or --eta, not both") }
        var etaDate: Date?
        if let countdown {
            guard let seconds = Double(countdown), seconds.isFinite, seconds >= 0, seconds <= 315_360_000 else {
                throw usage("--countdown \"\(countdown)\": expected a non-negative number of seconds")
            }
            etaDate = now.addingTimeInterval(seconds)
        }
        if let eta {
            guard let date = CeleryTimestamp.parse(eta) else {
                throw usage("--eta \"\(eta)\": expected an ISO-8601 time such as 2030-01-02T03:04:05+00:00")
            }
            etaDate = date
        }
        var expiresDate: Date?
        if let expires {
            if let seconds = Double(expires) {
                guard seconds.isFinite, seconds >= 0, seconds <= 315_360_000 else {
                    throw usage("--expires \"\(expires)\": seconds must be a non-negative number")
                }
                expiresDate = now.addingTimeInterval(seconds)
            } else if let date = CeleryTimestamp.parse(expires) {
                expiresDate = date
            } else {
                throw usage("--expires \"\(expires)\": expected seconds or an ISO-8601 time")
            }
        }
        let id = taskID ?? CeleryMessage.newID()
        guard !id.isEmpty, !id.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }) else {
            throw usage("--task-id \"\(id)\": a task id must be non-empty, without spaces or control characters")
        }
        if let taskName, taskName.isEmpty || taskName.contains(where: { $0.isWhitespace }) {
            throw usage("--task-name \"\(taskName)\": a task name must be non-empty, without spaces")
        }
        if json && !wait { throw usage("--json applies to --wait (without it only the task id is printed)") }
        if timeout != nil && !wait { throw usage("--timeout applies to --wait") }
        return Validated(
            queue: queue, priority: priorityValue, eta: etaDate, expires: expiresDate, taskID: id,
            timeout: try ResultTimeout.parse(timeout))
    }

    /// Validates, then sends `taskName`(args, kwargs); prints the task id, or with `--wait` the result.
    func send(defaultTaskName: String, args: [JSONValue], kwargs: JSONObject) async throws {
        let now = Date()
        let options = try validated(now: now)
        let name = taskName ?? defaultTaskName
        let message = CeleryMessage.make(
            taskName: name, id: options.taskID, args: args, kwargs: kwargs, queue: options.queue,
            priority: options.priority, eta: options.eta, expires: options.expires, now: now)
        let brokerURL = connection.redisURL()
        let broker = try await RedisConnection.connect(connection.redisConfiguration(url: brokerURL))
        guard wait else {
            try await TaskPublisher.publish(message, queue: options.queue, priority: options.priority, on: broker)
            await broker.close()
            print(options.taskID)
            return
        }
        // Subscribe before sending, as Celery's send_task does, so a fast worker's result is not missed.
        let backendConfig = try connection.redisConfiguration(url: backend.url(broker: brokerURL))
        let subscriber = try await RedisConnection.connect(backendConfig)
        let reader = backend.url(broker: brokerURL) == brokerURL ? broker : try await RedisConnection.connect(backendConfig)
        let results = RedisResultBackend(reconnecting: backendConfig)
        try await results.subscribe(taskID: options.taskID, on: subscriber)
        try await TaskPublisher.publish(message, queue: options.queue, priority: options.priority, on: broker)
        Console.info("sent \(name) \(options.taskID) to queue \(options.queue); waiting up to \(options.timeout)")
        let reading = try await results.wait(
            taskID: options.taskID, subscriber: subscriber, reader: reader, timeout: options.timeout
        ) { progress in
            Console.info("task \(options.taskID): \(progress.result.state.rawValue)")
        }
        await subscriber.close()
        await reader.close()
        await broker.close()
        try ResultOutput.finish(reading, json: json)
    }
}
