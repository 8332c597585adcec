import ArgumentParser
import OAuthMaintenance
import Postgres

/// `oauthq migrate`: create DOT's tables, check an existing database, or add the cleanup indexes.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create Django OAuth Toolkit 3.4.1's tables (as Django's migrations do) where missing.",
        discussion: """
            Without options, creates the DOT tables and a minimal auth_user that are missing from the \
            current schema, in one transaction; existing tables are never changed. On a database that \
            Django manages, run `manage.py migrate` instead and use --check.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Only report whether every table and column oauthq uses exists (exit 1 if not).")
    var check = false

    @Flag(help: "Create the opt-in indexes that make cleartokens cheap (CREATE INDEX CONCURRENTLY).")
    var cleanupIndexes = false

    func run() async throws {
        try await reportingFailures {
            let db = try await PostgresConnection.connect(PostgresConfiguration(url: connection.databaseURL()))
            if check {
                let report = try await DOTSchema.check(on: db)
                if report.isComplete {
                    print("ok: every table and column oauthq uses is present")
                    return
                }
                for table in report.missingTables { print("missing table: \(table)") }
                for column in report.missingColumns { print("missing column: \(column)") }
                throw ExitCode(1)
            }
            if cleanupIndexes {
                let built = try await DOTSchema.createCleanupIndexes(on: db)
                for index in DOTSchema.cleanupIndexes {
                    let state = built.contains(index.name) ? "created" : "present"
                    print("\(state): \(index.name) (cleartokens step \(index.serves))")
                }
                return
            }
            let report = try await DOTSchema.migrate(on: db)
            for table in report.created { print("created: \(table)") }
            if report.created.isEmpty {
                print("nothing to do: all \(report.alreadyPresent.count) tables are present")
            }
        }
    }
}
