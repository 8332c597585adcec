import Foundation
import Testing

/// The real other side: DOT 3.4.1 / Django 5.2 / Celery 5.7 in `.venv/` (made by scripts/python-env.sh).
public enum PythonReference {
    /// True when the venv exists, or when under CI (where a missing venv must fail the test, not skip it).
    public static var shouldRun: Bool {
        TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: RepositoryPaths.venvPython.path)
    }

    /// Runs `harness/reference/<script>` with the venv's Python.
    public static func run(
        _ script: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        removing: [String] = [],
        input: String? = nil
    ) async throws -> ProcessOutput {
        guard FileManager.default.isExecutableFile(atPath: RepositoryPaths.venvPython.path) else {
            throw PythonReferenceMissing()
        }
        return try await ProcessRunner.output(
            RepositoryPaths.venvPython,
            [RepositoryPaths.reference(script).path] + arguments,
            environment: environment,
            removing: removing,
            input: input
        )
    }
}

/// The venv is missing: run scripts/python-env.sh (scripts/test.sh does).
public struct PythonReferenceMissing: Error, CustomStringConvertible {
    public var description: String {
        "no Python reference venv at \(RepositoryPaths.venvPython.path): run scripts/python-env.sh"
    }
}
