import ArgumentParser
import Foundation
import CeleryProtocol
import CeleryRedis
import Redis

/// `oauthq status`: queues, delayed and dead messages, and workers, at a glance.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show pending messages per queue and priority, delayed and dead-letter counts, and the workers."
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.customShort("Q"), .customLong("queues")], help: "Queues to show besides those the live workers consume.")
    var queues: String?

    @Option(name: .customLong("key-prefix"), help: "Prefix of oauthq's own Redis keys.")
    var keyPrefix = "oauthq"

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let redis = try await RedisConnection.connect(connection.redisConfiguration(url: connection.redisURL()))
            let names = (queues ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            let status = try await RedisQueueInspector(keys: .init(prefix: keyPrefix)).status(queues: names, on: redis)
            let paused = try await QueuePauses.read(keyPrefix: keyPrefix, on: redis)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                var object = try JSONSerialization.jsonObject(with: try encoder.encode(status)) as? [String: Any] ?? [:]
                object["paused"] = paused
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                return
            }
            print("queues")
            for queue in status.queues {
                let steps = ["0", "3", "6", "9"].map { "p\($0) \(queue.pending[$0] ?? 0)" }.joined(separator: ", ")
                print("  \(queue.name.padding(toLength: max(12, queue.name.count), withPad: " ", startingAt: 0))  \(queue.total) pending (\(steps))")
            }
            print("paused (oauthq queues resume QUEUE): \(paused.isEmpty ? "none" : paused.joined(separator: ", "))")
            print("delayed (eta/countdown/retry): \(status.delayed)")
            print("dead letters: \(status.dead)\(status.dead > 0 ? "   (oauthq dead-letters list)" : "")")
            let alive = status.workers.filter(\.alive).count
            print("workers: \(alive) alive\(status.workers.count > alive ? ", \(status.workers.count - alive) dead (being reaped)" : "")")
            for worker in status.workers {
                // Every field was written by another process: control characters are escaped (no terminal escapes).
                let line =
                    "  \(worker.name)  pid \(worker.pid)  host \(worker.host)  \(worker.alive ? "alive" : "DEAD")  "
                    + "started \(worker.started)  heartbeat \(worker.lastHeartbeat)  "
                    + "done \(worker.done)  failed \(worker.failed)  in flight \(worker.inFlight)  "
                    + "queues \(worker.queues.joined(separator: ","))  -c \(worker.concurrency)"
                print(Self.printable(line))
                if let notice = worker.notice { print(Self.printable("    notice: \(notice)")) }
            }
        }
    }

    /// `text` with control characters (C0, DEL, C1) shown as `\xNN`, uncut.
    static func printable(_ text: String) -> String {
        PrintableText.escaped(text, limit: nil)
    }
}
