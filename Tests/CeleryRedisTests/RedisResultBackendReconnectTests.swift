import Foundation
import CeleryProtocol
import CeleryRedis
import Redis
import TestSupport
import Testing

/// `enqueue --wait` and `result --wait` survive a lost connection: ``RedisResultBackend/wait`` reconnects within
/// its timeout, subscribes again and reads the record again. Against a private TLS redis-server that is killed
/// and restarted on the same port (so the reconnect also runs the TLS handshake again).
@Suite(
    "RedisResultBackend.wait reconnects",
    .enabled(if: RedisTestServer.isAvailable)
)
struct RedisResultBackendReconnectTests {
    /// Waits (at most 10 s) until the server has answered a `GET`: the wait's first read, after which it
    /// listens on its subscription.
    static func waitStarted(_ configuration: RedisConfiguration) async throws {
        let probe = try await RedisConnection.connect(configuration)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let stats = try await probe.command("INFO", "commandstats").string ?? ""
            if stats.contains("cmdstat_get:calls=") { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        await probe.close()
    }

    @Test("the server restarts during the wait: the result stored afterwards is returned, not an error")
    func serverRestartsDuringWait() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisTestServer(.init(certificates: certificates))
        try server.start()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url(), connectTimeout: .seconds(2), commandTimeout: .seconds(5))
        let taskID = UUID().uuidString.lowercased()
        let backend = RedisResultBackend(resultExpires: 600, reconnecting: configuration)
        let subscriber = try await RedisConnection.connect(configuration)
        let reader = try await RedisConnection.connect(configuration)
        try await backend.subscribe(taskID: taskID, on: subscriber)
        let waiting = Task { try await backend.wait(taskID: taskID, subscriber: subscriber, reader: reader, timeout: .seconds(60)) }

        try await Self.waitStarted(configuration)
        server.stop()
        try server.start()
        let writer = try await RedisConnection.connect(configuration)
        try await backend.store(CeleryResult(taskID: taskID, state: .success, result: "pong"), on: writer)

        let reading = try await waiting.value
        #expect(reading.result.state == .success)
        #expect(reading.result.taskID == taskID)
        #expect(reading.result.result == "pong")
    }

    @Test("without a configuration to reconnect to, a lost connection ends the wait with the error")
    func noReconnect() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisTestServer(.init(certificates: certificates))
        try server.start()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url())
        let backend = RedisResultBackend()
        let subscriber = try await RedisConnection.connect(configuration)
        let reader = try await RedisConnection.connect(configuration)
        try await backend.subscribe(taskID: "t", on: subscriber)
        let waiting = Task { try await backend.wait(taskID: "t", subscriber: subscriber, reader: reader, timeout: .seconds(60)) }
        try await Self.waitStarted(configuration)
        server.stop()
        await #expect(throws: RedisError.self) { try await waiting.value }
    }
}
