import Foundation
import TestSupport
import Testing

/// Generated documentation stays what generates it: docs/cli.md's "Flags of every command" is what `oauthq help`
/// prints (scripts/config-reference.py), and the benchmark charts and tables (docs/benchmarks.md, the README's
/// headline) are what the recorded benchmark output gives (scripts/charts.py).
@Suite struct ConfigurationReferenceTests {
    static let python = URL(fileURLWithPath: "/usr/bin/python3")
    static let script = RepositoryPaths.root.appendingPathComponent("scripts/config-reference.py").path
    static let reference = RepositoryPaths.root.appendingPathComponent("docs/cli.md")

    static func check(document: URL) async throws -> ProcessOutput {
        try await ProcessRunner.output(
            python, [script, "--oauthq", RepositoryPaths.oauthqBinary.path, "--doc", document.path, "--check"],
            removing: ["COLUMNS", "LINES"])
    }

    @Test("docs/cli.md's flag reference matches `oauthq help` (else: scripts/config-reference.py --write)")
    func flagReferenceIsCurrent() async throws {
        let output = try await Self.check(document: Self.reference)
        #expect(output.status == 0, "\(output.stderr)")
    }

    @Test("the check notices a flag missing from docs/cli.md")
    func checkNoticesStaleReference() async throws {
        let document = try String(contentsOf: Self.reference, encoding: .utf8)
        let row = "| `--shutdown-timeout <shutdown-timeout>` |"
        let line = try #require(document.split(separator: "\n").first { $0.hasPrefix(row) }, "no \(row) row")
        let stale = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-cli-\(UUID().uuidString).md")
        try document.replacingOccurrences(of: line + "\n", with: "").write(to: stale, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: stale) }
        let output = try await Self.check(document: stale)
        #expect(output.status != 0)
        #expect(output.stderr.contains("stale"), "\(output.stderr)")
    }

    @Test(
        "docs/benchmarks.md's charts and tables match docs/benchmarks/data (else: .venv/bin/python scripts/charts.py)",
        .enabled(if: PythonReference.shouldRun, "no .venv/bin/python: run scripts/python-env.sh"))
    func benchmarkChartsAreCurrent() async throws {
        let charts = RepositoryPaths.root.appendingPathComponent("scripts/charts.py").path
        let output = try await ProcessRunner.output(RepositoryPaths.venvPython, [charts, "--check"])
        #expect(output.status == 0, "\(output.stderr)")
    }
}
