import ArgumentParser
import CeleryRedis
import Redis

/// `oauthq result ID`: a task's state and result from Celery's Redis result backend.
struct ResultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result",
        abstract: "Show a task's state and result from Celery's Redis result backend.",
        discussion: """
            Reads celery-task-meta-<ID>; an id with no record is PENDING, as in Celery. With --wait, \
            subscribes to the result channel and waits until the task is ready (SUCCESS, FAILURE, REVOKED) \
            or --timeout passes. Exit status: 0 SUCCESS, 3 FAILURE, 4 REVOKED, 5 not ready (PENDING, \
            STARTED, RETRY), 1 Redis error, 2 invalid argument.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var backend: ResultBackendOptions

    @Argument(help: "The task id.")
    var id: String

    @Flag(help: "Wait until the task is ready.")
    var wait = false

    @Option(parsing: .unconditional, help: "Seconds to wait with --wait (default 60).")
    var timeout: String?

    @Flag(help: "Print Celery's stored JSON record instead of the human form.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let timeout = try ResultTimeout.parse(self.timeout)
            guard !id.isEmpty, !id.contains(where: { $0.isWhitespace }) else {
                throw CommandFailure(exitCode: 2, "the task id must be non-empty and contain no spaces")
            }
            let config = try connection.redisConfiguration(url: backend.url(broker: connection.redisURL()))
            let results = RedisResultBackend(reconnecting: config)
            let reader = try await RedisConnection.connect(config)
            let reading: RedisResultBackend.Reading
            if wait {
                let subscriber = try await RedisConnection.connect(config)
                try await results.subscribe(taskID: id, on: subscriber)
                reading = try await results.wait(taskID: id, subscriber: subscriber, reader: reader, timeout: timeout)
                await subscriber.close()
            } else {
                reading = try await results.fetch(taskID: id, on: reader)
            }
            await reader.close()
            try ResultOutput.finish(reading, json: json)
        }
    }
}
