import Foundation
@testable import CeleryRedis
import Logging
import Redis
import Synchronization
import Testing
import TestSupport

/// ``RedisReconnector`` against real servers: a port nothing listens on, then the shared Redis.
@Suite("reconnect helper", .enabled(if: TestEnvironment.shouldRunRedis))
struct RedisReconnectorTests {
    /// Keeps the log lines it is given.
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    struct Handler: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.append("\(event.level) \(event.message)")
        }
    }

    static func reconnector(_ lines: Lines) -> RedisReconnector {
        RedisReconnector(
            "test", policy: RedisReconnectPolicy(initialDelay: .milliseconds(5), maxDelay: .milliseconds(20)),
            logger: Logger(label: "test") { _ in Handler(lines: lines) }, metrics: nil
        )
    }

    /// A port that refuses connections: bound, never listened on.
    static func refused() throws -> RedisConfiguration {
        try RedisConfiguration(url: "redis://127.0.0.1:9/0", connectTimeout: .milliseconds(200))
    }

    @Test("failures back off and are logged once; the restore is logged once; the session runs on the new connection")
    func restores() async throws {
        let lines = Lines()
        let good = try RedisConfiguration(url: TestEnvironment.redisURL)
        var attempts = 0
        var failuresSeen: [Int] = []
        var sessions = 0
        await Self.reconnector(lines).run(
            open: { () async throws -> RedisConnection in
                attempts += 1
                return try await RedisConnection.connect(attempts <= 3 ? try Self.refused() : good)
            },
            close: { await $0.close() },
            shouldStop: { failures in
                failuresSeen.append(failures)
                return false
            },
            session: { connection, attempt in
                attempt.connected()
                sessions += 1
                let reply = try await connection.command("PING")
                #expect(reply.string == "PONG")
            }
        )
        #expect(attempts == 4)
        #expect(failuresSeen == [1, 2, 3])
        #expect(sessions == 1)
        let logged = lines.all
        #expect(logged.filter { $0.contains("test: Redis error:") }.count == 1, "\(logged)")
        #expect(logged.filter { $0.contains("test: connected to Redis again") }.count == 1, "\(logged)")
    }

    @Test("failures add up until a session reports the connection healthy; shouldStop ends the loop")
    func stops() async throws {
        let lines = Lines()
        let good = try RedisConfiguration(url: TestEnvironment.redisURL)
        var sessions = 0
        await Self.reconnector(lines).run(
            open: { try await RedisConnection.connect(good) },
            close: { await $0.close() },
            shouldStop: { failures in failures >= 2 },
            session: { _, _ in
                // Never healthy: failures add up across reconnects.
                sessions += 1
                throw RedisError(.io, "dropped")
            }
        )
        #expect(sessions == 2)
    }

    @Test("cancellation ends the loop during the backoff")
    func cancellation() async throws {
        let lines = Lines()
        let started = ContinuousClock.now
        let task = Task {
            await RedisReconnector(
                "test", policy: RedisReconnectPolicy(initialDelay: .seconds(30), maxDelay: .seconds(30), jitter: 0),
                logger: Logger(label: "test") { _ in Handler(lines: lines) }, metrics: nil
            ).run(
                open: { try await RedisConnection.connect(try Self.refused()) },
                close: { await $0.close() },
                session: { _, _ in }
            )
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while !lines.all.contains(where: { $0.contains("Redis error") }) {
            try #require(ContinuousClock.now < deadline)
            try await Task.sleep(for: .milliseconds(5))
        }
        task.cancel()
        await task.value
        #expect(ContinuousClock.now - started < .seconds(20))
    }
}
