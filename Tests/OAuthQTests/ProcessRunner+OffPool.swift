import Foundation
import TestSupport

extension ProcessRunner {
    /// ``ProcessRunner/run(_:_:environment:input:)`` on a global dispatch queue: waiting seconds for a
    /// child process must not hold one of the cooperative pool's few threads (other suites measure that
    /// the pool stays free).
    static func runOffPool(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], input: String? = nil
    ) async throws -> ProcessOutput {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try ProcessRunner.run(executable, arguments, environment: environment, input: input) })
            }
        }
    }
}
