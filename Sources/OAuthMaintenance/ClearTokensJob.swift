public import Foundation
public import Postgres

/// `cleartokens`: DOT 3.4.1's `clear_expired()` — the same six steps, filters, operators and
/// SET NULL / CASCADE work, so the same rows remain — done in cheap batches.
public struct ClearTokensJob: Sendable {
    /// The task name on the queue.
    public static let jobName = "cleartokens"

    /// PostgreSQL session advisory lock key for single-flight across every worker and machine.
    public static let lockKey: Int64 = 0x6F61_7574_6871_6374  // "oauthqct"

    public let settings: ClearTokensSettings

    public init(settings: ClearTokensSettings) {
        self.settings = settings
    }

    /// Runs the six steps against DOT's tables in the connection's current schema.
    ///
    /// - Parameters:
    ///   - connection: used for every statement; the advisory lock is held on it for the whole run.
    ///   - now: the run's single instant (DOT reads the app server's clock once).
    ///   - dryRun: count what each step would delete, delete nothing.
    ///   - progress: called after every batch and every step.
    /// - Throws: ``ClearTokensError`` (`.alreadyRunning`) when another run holds the lock;
    ///   `PostgresError` from the server; `CancellationError` when the task is cancelled (the running
    ///   statement is cancelled on the server, the current batch rolled back).
    public func run(
        on connection: PostgresConnection,
        now: Date = Date(),
        dryRun: Bool = false,
        progress: @Sendable (ClearTokensProgress) -> Void = { _ in }
    ) async throws -> ClearTokensSummary {
        try settings.validate()
        let started = ContinuousClock.now
        let cutoffs = settings.cutoffs(now: now)
        guard try await connection.tryAdvisoryLock(Self.lockKey) else {
            throw ClearTokensError(code: .alreadyRunning)
        }
        var steps: [ClearTokensSummary.StepResult] = []
        do {
            if dryRun {
                steps = try await countSteps(on: connection, cutoffs: cutoffs)
                steps.forEach { progress(.step($0)) }
            } else {
                for step in ClearTokensStep.allCases {
                    let result = try await delete(step, on: connection, cutoffs: cutoffs, progress: progress)
                    steps.append(result)
                    progress(.step(result))
                }
            }
        } catch {
            try? await connection.advisoryUnlock(Self.lockKey)
            throw error
        }
        try await connection.advisoryUnlock(Self.lockKey)
        return ClearTokensSummary(
            steps: steps,
            dryRun: dryRun,
            now: Self.iso8601(now),
            seconds: (ContinuousClock.now - started).seconds
        )
    }

    private func delete(
        _ step: ClearTokensStep,
        on connection: PostgresConnection,
        cutoffs: ClearTokensCutoffs,
        progress: @Sendable (ClearTokensProgress) -> Void
    ) async throws -> ClearTokensSummary.StepResult {
        let started = ContinuousClock.now
        guard case .some(let cutoff) = step.cutoff(cutoffs) else { preconditionFailure("cutoff is never .none") }
        if cutoff == nil && step != .orphanedRefreshTokens {
            return .init(step: step, deleted: 0, skipped: true, batches: 0, seconds: 0)
        }
        var cursor: Int64 = 0
        var deleted = 0
        var batches = 0
        while true {
            try Task.checkCancellation()
            let end = try await connection.run(step.windowEnd(after: cursor, size: settings.batchSize)).rows.first
            guard let high = try end?.decode(Int64?.self, column: 0) else { break }  // no rows after the cursor
            let row = try await connection.run(step.batch(cutoff: cutoff, after: cursor, through: high)).rows.first
            if let row { deleted += Int(try row.decode(Int64.self, column: 2)) }
            batches += 1
            progress(.batch(step, deletedSoFar: deleted, batches: batches))
            if settings.batchInterval > 0 {
                try await Task.sleep(for: .milliseconds(Int64(settings.batchInterval * 1000)))
            }
            cursor = high
        }
        return .init(
            step: step, deleted: deleted, skipped: false, batches: batches,
            seconds: (ContinuousClock.now - started).seconds
        )
    }

    private func countSteps(
        on connection: PostgresConnection,
        cutoffs: ClearTokensCutoffs
    ) async throws -> [ClearTokensSummary.StepResult] {
        try await connection.transaction { conn in
            try conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return try ClearTokensStep.allCases.map { step in
                let started = ContinuousClock.now
                if case .some(nil) = step.cutoff(cutoffs), step != .orphanedRefreshTokens {
                    return .init(step: step, deleted: 0, skipped: true, batches: 0, seconds: 0)
                }
                let count = try conn.query(step.dryRunCount(cutoffs)).rows.first?.decode(Int64.self, column: 0) ?? 0
                return .init(
                    step: step, deleted: Int(count), skipped: false, batches: 0,
                    seconds: (ContinuousClock.now - started).seconds
                )
            }
        }
    }

    /// `2026-11-30T01:56:34.908906Z`.
    static func iso8601(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((micros / 1_000_000).rounded(.down))
        let fraction = Int64(micros) - seconds * 1_000_000
        var tm = tm()
        var time = time_t(seconds)
        gmtime_r(&time, &tm)
        // Plain interpolation: String(format:) loads ICU locale data (megabytes of RSS).
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(fraction), 6))Z"
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
