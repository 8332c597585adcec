import Foundation

/// What one `cleartokens` run did: rows deleted per step, batches, seconds.
public struct ClearTokensSummary: Sendable, Codable, Equatable {
    /// One step's outcome.
    public struct StepResult: Sendable, Codable, Equatable {
        /// Which step.
        public var step: ClearTokensStep
        /// Rows deleted (for a dry run: rows that would be deleted).
        public var deleted: Int
        /// True when DOT's settings skip the step (its cutoff is unset).
        public var skipped: Bool
        /// Batches (statements) the step ran; steps 1–3 walked together share theirs.
        public var batches: Int
        /// Wall time of the step; steps 1–3 walked together share theirs.
        public var seconds: Double
        /// How the rows were found: `walk` (primary-key windows), `index` (its cleanup index), or
        /// `count` (a dry run); empty when skipped.
        public var via: String
    }

    /// The six steps, in order.
    public var steps: [StepResult]
    /// True for `--dry-run`: nothing was deleted.
    public var dryRun: Bool
    /// The run's single `now` (ISO 8601, UTC, microseconds).
    public var now: String
    /// Wall time of the whole run.
    public var seconds: Double

    /// Rows deleted by all steps.
    public var totalDeleted: Int { steps.reduce(0) { $0 + $1.deleted } }
}

/// Why a run did not happen.
public struct ClearTokensError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case alreadyRunning = "already running" }
        private let base: Base
        /// Another `cleartokens` holds the single-flight lock (on any worker or machine).
        public static let alreadyRunning = Code(base: .alreadyRunning)
        public var description: String { base.rawValue }
    }

    public let code: Code

    public var description: String {
        switch code {
        case .alreadyRunning:
            "cleartokens is already running elsewhere (another run holds its PostgreSQL advisory lock); nothing was done"
        default: code.description
        }
    }
}

/// Progress reports, one per batch and one per step.
public enum ClearTokensProgress: Sendable {
    /// A batch finished: the rows its pass (one step, or steps 1–3 together) deleted so far, and how far
    /// its walk is through the table's id range (0 to 1; 0 for a pass driven by a cleanup index).
    case batch([ClearTokensStep], deletedSoFar: Int, batches: Int, fraction: Double)
    /// A step finished.
    case step(ClearTokensSummary.StepResult)
}

extension ClearTokensProgress {
    /// The batch report as the worker's `PROGRESS` meta and the progress lines show it (`step` names the
    /// pass: one step, or steps 1–3 joined by commas); nil for a step's end.
    public var maintenanceProgress: MaintenanceProgress? {
        guard case .batch(let steps, let deleted, let batches, let fraction) = self else { return nil }
        return MaintenanceProgress(
            step: steps.map(\.rawValue).joined(separator: ","), deleted: deleted, batches: batches, fraction: fraction
        )
    }
}
