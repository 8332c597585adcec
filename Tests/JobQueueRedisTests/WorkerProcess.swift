import Foundation
import JobQueue
import Redis
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A running `oauthq worker` (the built binary), its output captured in a temporary file.
final class WorkerProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is started in init and afterwards only signalled and polled, which
    // Foundation's Process allows from any thread.
    private let process = Process()
    let logURL: URL

    /// Starts `oauthq worker <arguments>` with the test's servers in the environment (plus `environment`).
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-worker-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = RepositoryPaths.oauthqBinary
        process.arguments = ["worker"] + arguments
        var merged = ProcessInfo.processInfo.environment
        merged["REDIS_URL"] = TestEnvironment.redisURL
        merged["DATABASE_URL"] = nil
        merged["RESULT_BACKEND"] = nil
        merged.merge(environment) { $1 }
        process.environment = merged
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Sends `signal` (SIGTERM, SIGINT, SIGKILL).
    func send(_ signal: Int32) {
        if process.isRunning { _ = kill(process.processIdentifier, signal) }
    }

    /// Waits for the exit without blocking the cooperative pool; nil on timeout.
    func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// SIGKILL and wait.
    func killHard() async {
        send(SIGKILL)
        _ = await waitForExit(timeout: .seconds(10))
    }

    /// Everything the worker logged so far.
    var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// Waits until the worker logs that it is ready.
    func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !log.contains(" ready: ") {
            if !process.isRunning { throw WorkerProcessError(message: "worker exited early:\n\(log)") }
            if ContinuousClock.now > deadline { throw WorkerProcessError(message: "worker not ready in time:\n\(log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit {
        if process.isRunning {
            _ = kill(process.processIdentifier, SIGKILL)
        }
        try? FileManager.default.removeItem(at: logURL)
    }
}

struct WorkerProcessError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Reads many results at once: the state per task id (nil: none stored).
func resultStates(_ ids: [String], on connection: RedisConnection) async throws -> [String: CeleryResult] {
    var results: [String: CeleryResult] = [:]
    var index = 0
    while index < ids.count {
        let chunk = Array(ids[index..<min(index + 500, ids.count)])
        index += chunk.count
        let reply = try await connection.command([Array("MGET".utf8)] + chunk.map { Array(CeleryResult.key(taskID: $0).utf8) })
        for (id, value) in zip(chunk, reply.array ?? []) {
            if let bytes = value.bytes, let result = try? CeleryResult.decode(bytes).get() {
                results[id] = result
            }
        }
    }
    return results
}

/// Pipelined LPUSH of many messages to one list.
func pushAll(_ messages: [[UInt8]], list: String, on connection: RedisConnection) async throws {
    var index = 0
    while index < messages.count {
        let chunk = messages[index..<min(index + 500, messages.count)]
        index += chunk.count
        _ = try await connection.command([Array("LPUSH".utf8), Array(list.utf8)] + chunk)
    }
}
