import Foundation
import Postgres
import Testing
import TestSupport

/// `oauthq clearcimdapplications` as a process against DOT 3.4.1's `manage.py clearcimdapplications`:
/// the same arguments on two clones of one Django-migrated, seeded database; stdout, stderr (for DOT's
/// CommandError) and exit statuses compared, and the rows left.
@Suite(
    "clearcimdapplications (CLI): oauthq vs DOT 3.4.1",
    .enabled(if: TestEnvironment.shouldRunPostgres && PythonReference.shouldRun),
    .timeLimit(.minutes(10))
)
struct ClearCIMDApplicationsCLIDifferentialTests {
    static let now = "2026-11-30T01:56:34.908906+00:00"

    struct Case: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        var testDescription: String { arguments.isEmpty ? "no arguments" : arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(arguments: []),
        Case(arguments: ["--batch-size", "3"]),
        Case(arguments: ["--batch-size=1_0"]),
        Case(arguments: ["--batch-size", "0"]),
        Case(arguments: ["--batch-size", "-4"]),
        Case(arguments: ["--batch-size", "abc"]),
        Case(arguments: ["--batch-size", "2.5"]),
    ]

    @Test("same stdout, same CommandError, same exit status, same rows left", arguments: cases)
    func differential(_ testCase: Case) async throws {
        let binary = RepositoryPaths.oauthqBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build first: swift build --build-tests")
        try await TemporaryDatabase.with(prefix: "ccc_tpl") { template in
            let migrate = try await PythonReference.run("manage.py", ["migrate", "--verbosity", "0"], environment: ["DATABASE_URL": template.url])
            try #require(migrate.status == 0, "manage.py migrate failed: \(migrate.stderr)")
            let seed = try await PythonReference.run(
                "seed_cimd.py", ["--scenarios", "--count", "40", "--now", Self.now], environment: ["DATABASE_URL": template.url]
            )
            try #require(seed.status == 0, "seed failed: \(seed.stderr)")
            try await TemporaryDatabase.with(prefix: "ccc_dot", template: template.name) { dotDatabase in
                try await TemporaryDatabase.with(prefix: "ccc_oq", template: template.name) { ourDatabase in
                    let dot = try await ProcessRunner.output(
                        RepositoryPaths.venvPython,
                        [RepositoryPaths.reference("clearcimdapplications_at.py").path, "--now", Self.now]
                            + Self.referenceArguments(testCase.arguments),
                        environment: ["DATABASE_URL": dotDatabase.url]
                    )
                    let ours = try await ProcessRunner.output(
                        binary, ["clearcimdapplications", "--now", Self.now] + testCase.arguments,
                        environment: ["DATABASE_URL": ourDatabase.url]
                    )
                    #expect(ours.status == dot.status, "DOT: \(dot.stderr) oauthq: \(ours.stderr)")
                    #expect(ours.stdout == dot.stdout)
                    if dot.stderr.hasPrefix("CommandError: ") {
                        #expect(ours.stderr == dot.stderr)
                    } else if dot.status == 2 {
                        // argparse's usage text differs; the complaint is the same.
                        #expect(ours.stderr.contains("argument --batch-size: invalid int value: "), "\(ours.stderr)")
                    } else {
                        #expect(ours.stderr.isEmpty, "\(ours.stderr)")
                    }
                    let dotLeft = try await Self.applications(dotDatabase)
                    let ourLeft = try await Self.applications(ourDatabase)
                    #expect(ourLeft == dotLeft)
                }
            }
        }
    }

    /// The wrapper takes `--batch-size VALUE` and passes it on as two words.
    static func referenceArguments(_ arguments: [String]) -> [String] {
        arguments.flatMap { argument -> [String] in
            argument.hasPrefix("--batch-size=") ? ["--batch-size", String(argument.dropFirst("--batch-size=".count))] : [argument]
        }
    }

    static func applications(_ database: TemporaryDatabase) async throws -> [Int64] {
        let connection = try await database.connect()
        let ids = try await connection.query("SELECT id FROM oauth2_provider_application ORDER BY id").rows.map {
            try $0.decode(Int64.self, column: 0)
        }
        await connection.close()
        return ids
    }
}
