import ArgumentParser
import Foundation
import CeleryProtocol
import MaintenanceTasks
import OAuthMaintenance
import Postgres

/// `oauthq clearcimdapplications`: a drop-in replacement for DOT 3.4.1's `manage.py clearcimdapplications`.
struct ClearCIMDApplicationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clearcimdapplications",
        abstract: "Delete expired CIMD-registered applications that hold no live tokens or grants, as DOT 3.4.1 does.",
        discussion: """
            Prints DOT's line (`Deleted N expired CIMD application(s)`) on stdout. A --batch-size below 1 \
            is DOT's CommandError (exit 1); one that is not an integer is a usage error (exit 2). Exit \
            status: 0 done, 1 error, 2 usage error, 75 another run holds the lock (nothing done).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: .customLong("batch-size"), parsing: .unconditional,
        help: "Applications locked and deleted per transaction (default: 1000)."
    )
    var batchSize: String?

    @Flag(help: "Print the structured result as JSON on stdout instead of DOT's line.")
    var json = false

    @OptionGroup var runOptions: MaintenanceRunOptions

    func validate() throws {
        if let batchSize, ClearCIMDApplicationsJob.parseBatchSize(batchSize) == nil {
            // argparse's wording for `type=int`.
            throw ValidationError("argument --batch-size: invalid int value: \(JSONValue.string(batchSize).pythonRepr)")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let size = batchSize.flatMap(ClearCIMDApplicationsJob.parseBatchSize) ?? ClearCIMDApplicationsJob.defaultBatchSize
            let job: ClearCIMDApplicationsJob
            do {
                job = try ClearCIMDApplicationsJob(batchSize: size, tables: try TableOptions.tables())
            } catch let error as ClearCIMDApplicationsError {
                // Django prints a CommandError as `CommandError: <message>` on stderr and exits 1.
                FileHandle.standardError.write(Data("CommandError: \(error.description)\n".utf8))
                throw ExitCode(1)
            }
            let instant = try runOptions.instant()
            let db = try await PostgresConnection.connect(PostgresConfiguration(url: connection.databaseURL()))
            let summary: ClearCIMDApplicationsSummary
            do {
                let reporter = runOptions.reporter()
                summary = try await job.run(on: db, now: instant) { update in reporter?.update(update) }
                reporter?.finishLiveLine()
            } catch let error as ClearCIMDApplicationsError where error.code == .alreadyRunning {
                throw CommandFailure(exitCode: ClearTokensCommand.lockedExitCode, error.description)
            }
            await db.close()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                print(summary.dotOutputLine)
            }
        }
    }
}
