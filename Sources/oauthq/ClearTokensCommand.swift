import ArgumentParser
import Foundation
import CeleryProtocol
import MaintenanceTasks
import OAuthMaintenance
import Postgres

/// `oauthq cleartokens`: a drop-in replacement for DOT 3.4.1's `manage.py cleartokens`.
struct ClearTokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleartokens",
        abstract: "Delete expired and revoked tokens, ID tokens and grants exactly as DOT 3.4.1's cleartokens does.",
        discussion: """
            Settings come from the environment with DOT's names (REFRESH_TOKEN_EXPIRE_SECONDS, \
            REFRESH_TOKEN_GRACE_PERIOD_SECONDS, REFRESH_TOKEN_REUSE_PROTECTION, \
            CLEAR_EXPIRED_TOKENS_BATCH_SIZE, CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL); flags override them. \
            Progress goes to stderr: on a terminal a live line per running step, redrawn about twice a \
            second, that becomes the step's summary line; otherwise a progress line every 10 s and the \
            summary line per step. Exit status: 0 done, 1 configuration or database \
            error, 75 another run holds the lock (nothing done).
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .customLong("refresh-token-expire-seconds"), parsing: .unconditional, help: "REFRESH_TOKEN_EXPIRE_SECONDS (unset or 0: never).")
    var expireSeconds: String?

    @Option(name: .customLong("refresh-token-grace-period-seconds"), parsing: .unconditional, help: "REFRESH_TOKEN_GRACE_PERIOD_SECONDS (default 0).")
    var gracePeriodSeconds: String?

    @Option(name: .customLong("refresh-token-reuse-protection"), parsing: .unconditional, help: "REFRESH_TOKEN_REUSE_PROTECTION: true or false.")
    var reuseProtection: String?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "CLEAR_EXPIRED_TOKENS_BATCH_SIZE (default 10000).")
    var batchSize: String?

    @Option(name: .customLong("batch-interval"), parsing: .unconditional, help: "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL in seconds (default 0).")
    var batchInterval: String?

    @Option(name: .customLong("index-fraction"), help: "With the cleanup indexes (migrate --cleanup-indexes): drive a step by its index when it deletes at most this fraction of its table (0: never, 1: always).")
    var indexFraction: Double = 0.1

    @Option(help: "Connections that split each step's primary-key walk (1-16; the steps still run in DOT's order).")
    var jobs = 1

    @Flag(help: "Print what each step would delete; delete nothing.")
    var dryRun = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    @OptionGroup var runOptions: MaintenanceRunOptions

    static let lockedExitCode: Int32 = 75  // EX_TEMPFAIL

    /// Environment values with DOT's names, overridden by the flags that were given.
    func settingValues() -> [String: String] {
        var values: [String: String] = [:]
        for key in ClearTokensSettings.Key.allCases {
            values[key.rawValue] = Environment.value(key.rawValue)
        }
        let flags: [(ClearTokensSettings.Key, String?)] = [
            (.refreshTokenExpireSeconds, expireSeconds), (.refreshTokenGracePeriodSeconds, gracePeriodSeconds),
            (.refreshTokenReuseProtection, reuseProtection), (.batchSize, batchSize), (.batchInterval, batchInterval),
        ]
        for (key, value) in flags where value != nil {
            values[key.rawValue] = value
        }
        return values
    }

    func run() async throws {
        try await reportingFailures {
            let settings: ClearTokensSettings
            do {
                settings = try ClearTokensSettings(values: settingValues())
            } catch let error as ClearTokensSettings.ConfigurationError {
                throw CommandFailure(exitCode: 1, "ImproperlyConfigured: \(error.description)")
            }
            if settings.expiryDisabled {
                FileHandle.standardError.write(Data((ClearTokensSettings.expiryDisabledWarning + "\n").utf8))
            }
            guard (1...ClearTokensJob.maxJobs).contains(jobs) else {
                throw CommandFailure(exitCode: 2, "--jobs must be between 1 and \(ClearTokensJob.maxJobs)")
            }
            guard (0...1).contains(indexFraction) else {
                throw CommandFailure(exitCode: 2, "--index-fraction must be between 0 and 1")
            }
            let instant = try runOptions.instant()
            let tables = try TableOptions.tables()
            let configuration = try PostgresConfiguration(url: connection.databaseURL())
            let db = try await PostgresConnection.connect(configuration)
            let summary: ClearTokensSummary
            do {
                let reporter = runOptions.reporter()
                let dryRun = dryRun
                summary = try await ClearTokensJob(
                    settings: settings, indexedFraction: indexFraction, tables: tables, jobs: jobs,
                    connect: { try await PostgresConnection.connect(configuration) }
                ).run(on: db, now: instant, dryRun: dryRun) { event in
                    switch event {
                    case .step(let result):
                        let line = Self.describe(result, dryRun: dryRun)
                        if let reporter { reporter.finish(result.step.rawValue, summary: line) } else { Console.info(line) }
                    case .batch:
                        if let reporter, let update = event.maintenanceProgress { reporter.update(update) }
                    }
                }
            } catch let error as ClearTokensError where error.code == .alreadyRunning {
                throw CommandFailure(exitCode: Self.lockedExitCode, error.description)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                let verb = dryRun ? "would delete" : "deleted"
                Console.info(
                    "cleartokens: \(verb) \(summary.totalDeleted) rows in \(Self.twoDecimals(summary.seconds)) s"
                )
            }
        }
    }

    /// `12.34` without `String(format:)`, which loads ICU locale data (megabytes of RSS).
    static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// `step 1/6 revoked_refresh_tokens: 120 deleted, 1 batch, 0.01 s (12000 rows/s)`.
    static func describe(_ result: ClearTokensSummary.StepResult, dryRun: Bool) -> String {
        let head = "step \(result.step.number)/6 \(result.step.rawValue):"
        if result.skipped { return "\(head) skipped (\(result.step.dotLogLine(deleted: nil)))" }
        if dryRun { return "\(head) would delete \(result.deleted)" }
        let rate = result.seconds > 0 ? Int(Double(result.deleted) / result.seconds) : result.deleted
        let batches = result.batches == 1 ? "1 batch" : "\(result.batches) batches"
        let shared = result.via == "walk" && result.step.number <= 3
        let how = result.via == "index" ? "by index, " : shared ? "steps 1-3 in one walk, " : ""
        return "\(head) \(result.deleted) deleted, \(how)\(batches), \(Self.twoDecimals(result.seconds)) s (\(rate) rows/s)"
    }
}
