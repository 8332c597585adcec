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

    @Flag(help: "Only report how the schema differs from DOT 3.4.1's, each difference harmless or blocking (exit 1 on blocking ones).")
    var check = false

    @Flag(help: "Create the opt-in indexes that make cleartokens cheap (CREATE INDEX CONCURRENTLY).")
    var cleanupIndexes = false

    func run() async throws {
        try await reportingFailures {
            let db = try await PostgresConnection.connect(PostgresConfiguration(url: connection.databaseURL()))
            if check {
                // Every difference from DOT 3.4.1's schema, one line each; blocking ones make it exit 1.
                let report = try await DOTSchema.drift(on: db, tables: try TableOptions.tables())
                for difference in report.differences { print(difference.description) }
                guard report.blocking.isEmpty else { throw ExitCode(1) }
                let harmless = report.harmless.count
                print("ok: every table and column oauthq uses is present" + (harmless == 0 ? "" : " (\(harmless) harmless difference(s))"))
                return
            }
            if cleanupIndexes {
                let built = try await DOTSchema.createCleanupIndexes(on: db, tables: try TableOptions.tables())
                for index in DOTSchema.cleanupIndexes {
                    let state = built.contains(index.name) ? "created" : "present"
                    print("\(state): \(index.name) (cleartokens step \(index.serves))")
                }
                return
            }
            guard try TableOptions.tables().isStandard else {
                // oauthq only knows how to create DOT's own tables; swapped models are the project's.
                throw CommandFailure(
                    exitCode: 1,
                    "swapped models are configured: create their tables with Django (manage.py migrate); use --check to verify them"
                )
            }
            let report = try await DOTSchema.migrate(on: db)
            for table in report.created { print("created: \(table)") }
            if report.created.isEmpty {
                print("nothing to do: all \(report.alreadyPresent.count) tables are present")
            }
        }
    }
}
