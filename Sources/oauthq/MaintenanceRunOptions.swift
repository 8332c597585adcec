import ArgumentParser
import Foundation
import CeleryProtocol
import MaintenanceTasks

/// The options `cleartokens` and `clearcimdapplications` share: progress on stderr and the run's `now`.
struct MaintenanceRunOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Live progress (terminal) or a progress line every 10 s (otherwise) on stderr.")
    var progress = true

    @Option(help: .hidden)  // seconds between progress lines when stderr is not a terminal (tests)
    var progressInterval: Double = 10

    @Option(help: .hidden)  // ISO 8601 instant to use as the run's `now` (tests, benchmarks, replays)
    var now: String?

    /// The run's `now`: `--now`, else the clock.
    /// - Throws: ``CommandFailure`` (exit 2) when `--now` is not an ISO 8601 instant.
    func instant() throws -> Date {
        guard let now else { return Date() }
        // CeleryTimestamp, not ISO8601DateFormatter: the formatter maps ICU data (megabytes of RSS).
        guard let parsed = CeleryTimestamp.parse(now) else {
            throw CommandFailure(exitCode: 2, "--now must be an ISO 8601 instant (UTC unless an offset is given)")
        }
        return parsed
    }

    /// The progress reporter, nil with `--no-progress`; the log interval is clamped to 0.01…3600 s.
    func reporter() -> ProgressReporter? {
        guard progress else { return nil }
        let seconds = min(max(progressInterval.isFinite ? progressInterval : 10, 0.01), 3600)
        return ProgressReporter(logInterval: .milliseconds(Int64(seconds * 1000)))
    }
}
