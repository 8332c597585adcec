import Beat
import Foundation
import JobQueue
import Redis
import TestSupport
import Testing

/// `enqueue --wait` and `result --wait` survive a lost connection: the watcher reconnects within its timeout,
/// subscribes again and reads the record again. Against a private TLS redis-server that is killed and restarted
/// on the same port (so the reconnect also runs the TLS handshake again).
@Suite(
    "ResultWatcher reconnects",
    .enabled(if: TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server"))
)
struct ResultWatcherReconnectTests {
    @Test("the server restarts during the wait: the result stored afterwards is returned, not an error")
    func serverRestartsDuringWait() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisTestServer(.init(certificates: certificates))
        try server.start()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url(), connectTimeout: .seconds(2), commandTimeout: .seconds(5))
        let taskID = UUID().uuidString.lowercased()
        let watcher = ResultWatcher(
            taskID: taskID,
            subscriber: try await RedisConnection.connect(configuration),
            reader: try await RedisConnection.connect(configuration),
            reconnecting: configuration
        )
        try await watcher.subscribe()
        let waiting = Task { try await watcher.wait(timeout: .seconds(60)) }

        try await Task.sleep(for: .milliseconds(300))
        server.stop()
        try server.start()
        let writer = try await RedisConnection.connect(configuration)
        let record = #"{"status": "SUCCESS", "result": "pong", "traceback": null, "children": [], "task_id": "\#(taskID)"}"#
        _ = try await writer.command("SET", CeleryResult.key(taskID: taskID), record)

        let reading = try await waiting.value
        #expect(reading.result.state == .success)
        #expect(reading.result.taskID == taskID)
    }

    @Test("without a configuration to reconnect to, a lost connection ends the wait with the error")
    func noReconnect() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisTestServer(.init(certificates: certificates))
        try server.start()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url())
        let watcher = ResultWatcher(
            taskID: "t", subscriber: try await RedisConnection.connect(configuration),
            reader: try await RedisConnection.connect(configuration))
        try await watcher.subscribe()
        let waiting = Task { try await watcher.wait(timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(300))
        server.stop()
        await #expect(throws: RedisError.self) { try await waiting.value }
    }
}
