import Foundation
import TestSupport
import Testing

/// README.md's "Flags of every command" is generated from `oauthq help` (scripts/config-reference.py) and must
/// stay what the binary prints.
@Suite struct ConfigurationReferenceTests {
    static let python = URL(fileURLWithPath: "/usr/bin/python3")
    static let script = RepositoryPaths.root.appendingPathComponent("scripts/config-reference.py").path

    static func check(readme: URL) async throws -> ProcessOutput {
        try await ProcessRunner.output(
            python, [script, "--oauthq", RepositoryPaths.oauthqBinary.path, "--readme", readme.path, "--check"],
            removing: ["COLUMNS", "LINES"])
    }

    @Test("README.md's flag reference matches `oauthq help` (else: scripts/config-reference.py --write)")
    func flagReferenceIsCurrent() async throws {
        let output = try await Self.check(readme: RepositoryPaths.root.appendingPathComponent("README.md"))
        #expect(output.status == 0, "\(output.stderr)")
    }

    @Test("the check notices a flag missing from the README")
    func checkNoticesStaleReference() async throws {
        let readme = try String(contentsOf: RepositoryPaths.root.appendingPathComponent("README.md"), encoding: .utf8)
        let row = "| `--shutdown-timeout <shutdown-timeout>` |"
        let line = try #require(readme.split(separator: "\n").first { $0.hasPrefix(row) }, "no \(row) row")
        let stale = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-readme-\(UUID().uuidString).md")
        try readme.replacingOccurrences(of: line + "\n", with: "").write(to: stale, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: stale) }
        let output = try await Self.check(readme: stale)
        #expect(output.status != 0)
        #expect(output.stderr.contains("stale"), "\(output.stderr)")
    }
}
