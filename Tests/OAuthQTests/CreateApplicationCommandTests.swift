import Foundation
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

/// `oauthq createapplication` as a process: exit statuses, stdout/stderr discipline, bad input.
@Suite("oauthq createapplication (CLI)")
struct CreateApplicationCommandTests {
    static func oauthq(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessOutput {
        let binary = RepositoryPaths.oauthqBinary
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path), "build first: swift build --build-tests (\(binary.path))")
        return try await ProcessRunner.output(binary, ["createapplication"] + arguments, environment: environment)
    }

    static func stderrLines(_ output: ProcessOutput) -> [Substring] {
        output.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
    }

    /// The usage-error status: 2, as argparse (and so DOT) exits.
    static let usageStatus: Int32 = 2  // argparse's status, which oauthq keeps for usage errors

    @Test("a missing positional argument is a usage error: status 2, nothing on stdout")
    func missingPositional() async throws {
        let output = try await Self.oauthq(["confidential", "--database-url", "postgres://postgres@127.0.0.1:1/none"])
        #expect(output.status == Self.usageStatus)
        #expect(output.stdout.isEmpty)
        #expect(output.stderr.contains("Missing expected argument '<authorization-grant-type>'"))
    }

    @Test("an unknown option (e.g. --allowed-origins, which DOT refuses too) is a usage error")
    func unknownOption() async throws {
        let output = try await Self.oauthq(["public", "password", "--allowed-origins", "https://x"])
        #expect(output.status == Self.usageStatus)
        #expect(output.stderr.contains("Unknown option '--allowed-origins'"))
        #expect(output.stdout.isEmpty)
    }

    @Test(
        "a malformed or unreachable database: one `oauthq: error:` line on stderr, exit 1, no trace",
        arguments: [
            "postgres://postgres@127.0.0.1:notaport/x", "mysql://x@y/z", "dbname='unterminated",
            "postgres://postgres@127.0.0.1:1/unreachable",
        ])
    func badDatabase(url: String) async throws {
        let output = try await Self.oauthq(["public", "password", "--database-url", url])
        #expect(output.status == 1)
        #expect(output.stdout.isEmpty)
        let lines = Self.stderrLines(output)
        #expect(lines.count == 1, "stderr: \(output.stderr)")
        #expect(lines.first?.hasPrefix("oauthq: error: ") == true, "stderr: \(output.stderr)")
        #expect(!output.stderr.contains("Fatal error") && !output.stderr.contains("Stack"))
    }

    @Test("no database at all: one line naming the flag and the variable, exit 2")
    func noDatabase() async throws {
        // The parent's DATABASE_URL is overridden by an empty value, which counts as unset.
        let output = try await Self.oauthq(["public", "password"], environment: ["DATABASE_URL": ""])
        #expect(output.status == 2)
        #expect(Self.stderrLines(output) == ["oauthq: error: no database given: pass --database-url or set DATABASE_URL"])
    }

    @Test("a bad setting: one line naming the variable (not its value), exit 1, before connecting")
    func badSetting() async throws {
        let output = try await Self.oauthq(
            ["public", "password", "--database-url", "postgres://postgres@127.0.0.1:1/unreachable"],
            environment: ["OAUTHQ_PBKDF2_ITERATIONS": "lots"])
        #expect(output.status == 1)
        #expect(Self.stderrLines(output) == ["oauthq: error: OAUTHQ_PBKDF2_ITERATIONS must be an integer from 1 to 4294967295"])
    }

    @Test(
        "success prints the generated secret exactly once, on stdout; validation errors exit 1 on stdout",
        .enabled(if: TestEnvironment.shouldRunPostgres))
    func successAndFailure() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_createapp_cli") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            await connection.close()

            let created = try await Self.oauthq(
                ["public", "client-credentials", "--client-id", "cli-1", "--database-url", database.url],
                environment: ["OAUTHQ_PBKDF2_ITERATIONS": "1000"])
            #expect(created.status == 0)
            #expect(created.stderr.isEmpty)
            let lines = created.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2)
            #expect(lines.first == "New application cli-1 created successfully.")
            let secret = try #require(lines.last?.split(separator: " ").last.map(String.init))
            #expect(secret.count == 128)
            #expect(created.stdout.components(separatedBy: secret).count == 2)

            let duplicate = try await Self.oauthq(["public", "client-credentials", "--client-id", "cli-1", "--database-url", database.url])
            #expect(duplicate.status == 1)
            #expect(duplicate.stderr.isEmpty)
            #expect(
                duplicate.stdout
                    == "Please correct the following errors:\n - client_id: ['Application with this Client ID already exists.']\n")
        }
    }
}
