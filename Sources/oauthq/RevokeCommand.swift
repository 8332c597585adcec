import ArgumentParser
import Foundation
import CeleryProtocol
import CeleryRedis
import Redis

/// `oauthq revoke ID…`: revokes tasks for every worker, present and future, through the shared revoked set.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke tasks by id: no worker starts them (they end REVOKED); with --terminate, running ones are cancelled."
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Task ids.")
    var ids: [String]

    @Flag(help: "Also cancel the tasks where they run now (they end REVOKED; cleartokens stops after its current batch).")
    var terminate = false

    @Option(name: .customLong("ttl"), help: "Seconds the revoke lasts (1 to 2592000).")
    var ttl: Double = 86_400

    @Option(name: .customLong("result-backend"), help: "Redis URL of the result backend (default: $RESULT_BACKEND, else the broker).")
    var resultBackendFlag: String?

    @Option(name: .customLong("key-prefix"), help: "Prefix of oauthq's own Redis keys.")
    var keyPrefix = "oauthq"

    /// A TTL flag in seconds, checked: 1 s to 30 days.
    static func ttl(seconds: Double, flag: String) throws -> Duration {
        guard seconds.isFinite, seconds >= 1, seconds <= 2_592_000 else {
            throw CommandFailure(exitCode: 2, "\(flag) must be between 1 and 2592000 seconds")
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    func run() async throws {
        try await reportingFailures {
            let duration = try Self.ttl(seconds: ttl, flag: "--ttl")
            let accepted = RevokedSet.acceptable(ids)
            guard accepted.count == ids.count else {
                throw CommandFailure(exitCode: 2, "task ids must be 1 to \(RevokedSet.maximumIDBytes) bytes, at most \(RevokedSet.maximumIDsPerRequest)")
            }
            let brokerConfiguration = try RedisConfiguration(url: connection.redisURL())
            let redis = try await RedisConnection.connect(brokerConfiguration)
            try await RevokedSet(keyPrefix: keyPrefix).add(accepted, ttl: duration, on: redis)
            let backendURL = resultBackendFlag ?? Environment.value("RESULT_BACKEND")
            var backend = redis
            if let backendURL { backend = try await RedisConnection.connect(RedisConfiguration(url: backendURL)) }
            // Live workers hear it at once (they also reload the set within ~200 ms); with --terminate, the ones
            // running a task cancel it, and store REVOKED ('terminated') themselves.
            let live = try await PidboxClient.liveWorkerCount(keyPrefix: keyPrefix, on: redis)
            var terminated: [String] = []
            if live > 0 {
                let replies = try await PidboxClient(database: brokerConfiguration.database).call(
                    "revoke", arguments: ["task_id": .array(accepted.map(JSONValue.string)), "terminate": .bool(terminate), "signal": "TERM"],
                    limit: live, timeout: .seconds(5), on: redis
                )
                for (_, reply) in replies {
                    if let text = reply.objectValue?["ok"]?.stringValue, text.hasPrefix("terminate: "), !text.hasSuffix("tasks unknown") {
                        terminated += text.dropFirst("terminate: ".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    }
                }
            }
            let running = Set(terminated)
            let marked = try await RedisBroker(keyPrefix: keyPrefix).markRevoked(accepted.filter { !running.contains($0) }, on: backend)
            print("revoked \(accepted.count) task(s) for \(Int(ttl)) s; REVOKED stored for \(marked); \(live) live worker(s) told")
            if terminate {
                print(terminated.isEmpty ? "terminated: none running" : "terminated: " + terminated.joined(separator: ", "))
            }
        }
    }
}
