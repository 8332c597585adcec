public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A running `oauthq worker` (the built binary), its output captured in a temporary file that ``log`` reads.
/// Killed (SIGKILL) when released while still running.
public final class WorkerProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is started in init and afterwards only signalled and polled, which
    // Foundation's Process allows from any thread.
    private let process = Process()
    public let logURL: URL

    /// Starts `oauthq worker <arguments>` with the test's Redis in the environment (`REDIS_URL`), without the
    /// caller's `DATABASE_URL` and `RESULT_BACKEND`, plus `environment`.
    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
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

    deinit {
        if process.isRunning {
            _ = kill(process.processIdentifier, SIGKILL)
        }
        try? FileManager.default.removeItem(at: logURL)
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Everything the worker logged so far.
    public var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// Sends `signal` (SIGTERM, SIGINT, SIGKILL).
    public func send(_ signal: Int32) {
        if process.isRunning { _ = kill(process.processIdentifier, signal) }
    }

    /// Waits for the exit without blocking the cooperative pool; nil on timeout.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// SIGKILL and wait.
    public func killHard() async {
        send(SIGKILL)
        _ = await waitForExit(timeout: .seconds(10))
    }

    /// SIGTERM (a warm shutdown), then SIGKILL if the worker is still running after `timeout`; the exit status
    /// of the warm shutdown, nil when it had to be killed.
    @discardableResult
    public func stop(timeout: Duration = .seconds(20)) async -> Int32? {
        send(SIGTERM)
        if let status = await waitForExit(timeout: timeout) { return status }
        await killHard()
        return nil
    }

    /// Waits until the worker logs that it is ready; throws when it exits first or `timeout` passes.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        guard await waitForLog(" ready: ", timeout: timeout) else {
            let reason = process.isRunning ? "worker not ready in time" : "worker exited early"
            throw WorkerProcessError(message: "\(reason):\n\(log)")
        }
    }

    /// Waits until the log contains `text` (true), the worker exits without having logged it, or `timeout`
    /// passes (false).
    public func waitForLog(_ text: String, timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !log.contains(text) {
            if !process.isRunning || ContinuousClock.now > deadline { return log.contains(text) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}

/// A worker process that did not start or did not get ready: one line and the worker's log.
public struct WorkerProcessError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
