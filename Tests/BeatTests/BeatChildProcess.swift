import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process running in the background, its stderr (and stdout) captured to a file so it never blocks on a pipe.
/// Stop it with ``kill(_:)`` (SIGKILL, or SIGINT for a graceful stop; the test runner's children inherit a
/// blocked SIGTERM).
final class BeatChildProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is configured before `run()` and afterwards only read through Process's own
    // thread-safe accessors; the log file is written by the child and read by the test.
    let process = Process()
    let logURL: URL

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-test-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try handle.close()
    }

    var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    var pid: Int32 { process.processIdentifier }

    func kill(_ signalNumber: Int32) {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, signalNumber) }
    }

    /// Waits (off the cooperative pool) for the process to exit; SIGKILLs it after `timeout`.
    func waitForExit(timeout: Double = 15) async -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            kill(SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        }
        return process.terminationStatus
    }

    /// Polls the log until `predicate` holds or `timeout` passes.
    func waitForLog(timeout: Double, _ predicate: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(log) { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return predicate(log)
    }

    deinit {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: logURL)
    }
}
