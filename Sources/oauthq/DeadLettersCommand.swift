import ArgumentParser
import Foundation
import CeleryProtocol
import CeleryRedis
import Redis

/// `oauthq dead-letters list|requeue|purge`.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "List, requeue or purge messages the worker could not run (poison messages).",
        subcommands: [List.self, Requeue.self, Purge.self]
    )

    struct Common: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions

        @Option(name: .customLong("key-prefix"), help: "Prefix of oauthq's own Redis keys.")
        var keyPrefix = "oauthq"

        func inspector() -> RedisQueueInspector { RedisQueueInspector(keys: .init(prefix: keyPrefix)) }

        func redis() async throws -> RedisConnection {
            try await RedisConnection.connect(connection.redisConfiguration(url: connection.redisURL()))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show dead letters, oldest first (never their arguments).")

        @OptionGroup var common: Common

        @Option(help: "How many to show.")
        var limit = 50

        @Flag(help: "Print JSON lines (the stored records, original bytes in base64).")
        var json = false

        func run() async throws {
            try await reportingFailures {
                let letters = try await common.inspector().deadLetters(limit: limit, on: common.redis())
                for stored in letters {
                    if json {
                        print(String(decoding: stored.record, as: UTF8.self))
                    } else if let letter = stored.letter {
                        print(
                            "\(CeleryTimestamp.format(letter.time))  \(letter.taskID ?? "-")  \(letter.taskName ?? "-")  "
                                + "queue \(CeleryQueue.queueName(ofListKey: letter.queue))  \(letter.original.count) bytes  "
                                + "worker \(letter.worker)\n    \(letter.reason)"
                        )
                    } else {
                        print("(a record that does not decode, \(stored.record.count) bytes)")
                    }
                }
                if !json { Console.info("\(letters.count) shown") }
            }
        }
    }

    struct Requeue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put dead letters back on their queues.")

        @OptionGroup var common: Common

        @Argument(help: "Task ids to requeue.")
        var taskIDs: [String] = []

        @Flag(help: "Requeue every dead letter that decodes.")
        var all = false

        func validate() throws {
            if taskIDs.isEmpty == !all { throw ValidationError("give task ids or --all (not both)") }
        }

        func run() async throws {
            try await reportingFailures {
                let (requeued, undecodable) = try await common.inspector()
                    .requeue(taskIDs: all ? nil : Set(taskIDs), on: common.redis())
                print("requeued \(requeued)")
                if undecodable > 0 { Console.info("\(undecodable) left in place: the message does not decode") }
                if !all && requeued < taskIDs.count { throw ExitCode(1) }
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every dead letter.")

        @OptionGroup var common: Common

        @Flag(help: "Really delete them.")
        var yes = false

        func run() async throws {
            try await reportingFailures {
                guard yes else { throw CommandFailure(exitCode: 2, "purge deletes every dead letter: add --yes") }
                print("purged \(try await common.inspector().purge(on: common.redis()))")
            }
        }
    }
}
