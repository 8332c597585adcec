import ArgumentParser
import Foundation
import CeleryProtocol
import CeleryRedis
import Redis

/// `oauthq queues pause|resume QUEUE`: stops or restarts consumption of a queue by every worker.
struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Pause or resume a queue for every worker (kept in Redis, so restarts keep it).",
        subcommands: [Pause.self, Resume.self]
    )

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop every worker from taking from QUEUE until it is resumed; returns once live workers have stopped."
        )
        @OptionGroup var options: QueueOptions
        func run() async throws { try await reportingFailures { try await options.change(paused: true) } }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let workers take from QUEUE again.")
        @OptionGroup var options: QueueOptions
        func run() async throws { try await reportingFailures { try await options.change(paused: false) } }
    }
}

struct QueueOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queue.")
    var queue: String

    @Option(name: .customLong("key-prefix"), help: "Prefix of oauthq's own Redis keys.")
    var keyPrefix = "oauthq"

    func change(paused: Bool) async throws {
        guard !queue.isEmpty, queue.utf8.count <= QueuePauses.maximumNameBytes else {
            throw CommandFailure(exitCode: 2, "a queue name is 1 to \(QueuePauses.maximumNameBytes) bytes")
        }
        let configuration = try RedisConfiguration(url: connection.redisURL())
        let redis = try await RedisConnection.connect(configuration)
        let changed = try await QueuePauses(keyPrefix: keyPrefix).set(queue, paused: paused, on: redis)
        let live = try await PidboxClient.liveWorkerCount(keyPrefix: keyPrefix, on: redis)
        var acknowledged = 0
        if live > 0 {
            acknowledged = try await PidboxClient(database: configuration.database).call(
                "oauthq_queues_changed", arguments: [:], limit: live, timeout: .seconds(5), on: redis
            ).count
        }
        let verb = paused ? "paused" : "resumed"
        print("\(queue) \(verb)\(changed ? "" : " (already \(verb))"); \(acknowledged) of \(live) live worker(s) confirmed")
        if acknowledged < live {
            print("the other workers read the change from Redis within a second")
        }
    }
}
