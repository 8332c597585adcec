public import Foundation

/// Runs a program to completion and captures what it printed.
public struct ProcessOutput: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public enum ProcessRunner {
    /// Runs `executable` with `arguments`, this process's environment plus `environment` and less
    /// `removing`; waits for it to exit.
    /// Output is read on background threads so a chatty child never blocks on a full pipe.
    public static func run(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = [:],
        removing removedVariables: [String] = [],
        input: String? = nil
    ) throws -> ProcessOutput {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for name in removedVariables { merged[name] = nil }
        process.environment = merged
        let out = Pipe()
        let err = Pipe()
        let stdin = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        let outData = ReadAll(out.fileHandleForReading)
        let errData = ReadAll(err.fileHandleForReading)
        process.waitUntilExit()
        return ProcessOutput(
            status: process.terminationStatus,
            stdout: String(decoding: outData.wait(), as: UTF8.self),
            stderr: String(decoding: errData.wait(), as: UTF8.self)
        )
    }
}

extension ProcessRunner {
    /// ``run(_:_:environment:removing:input:)`` on a thread of its own, so waiting for the child never
    /// blocks Swift's cooperative pool (which the tests, and every other suite, run on).
    public static func output(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = [:],
        removing: [String] = [],
        input: String? = nil
    ) async throws -> ProcessOutput {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    try run(executable, arguments, environment: environment, removing: removing, input: input)
                })
            }
        }
    }
}

/// Reads a file handle to EOF on its own thread.
private final class ReadAll: @unchecked Sendable {
    // @unchecked Sendable: `data` is written once by the reader thread before `done` is signalled and
    // read only after `wait()` returns.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
