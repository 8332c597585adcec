import Foundation
import TestSupport
import Testing

/// docs/cli.md's "Flags of every command" is generated from `oauthq help` (scripts/config-reference.py) and must
/// stay what the binary prints.
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
}
