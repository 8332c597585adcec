import CivilCalendar
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

    /// When the opt-in cleanup indexes exist, a step is driven by its index if the rows it may delete
    /// are at most this fraction of the table its walk would read: then it visits only those rows.
    /// Above it, the primary-key walk is cheaper, because it reads the table in physical order while
    /// the index hands out rows scattered over it (measured: with half the rows expired and no
    /// correlation between id and expiry, index order costs twice the walk). 0 never uses the
    /// indexes; 1 always does when they exist.
    public var indexedFraction: Double

    /// Where DOT's models live (DOT's own tables, or a project's swapped models).
    public var tables: DOTTables

    /// Connections that split each primary-key walk (`--jobs N`: N in all, the run's own included),
    /// 1 to ``maxJobs``. More than one needs ``connect``.
    public var jobs: Int
    /// The most connections one run walks with.
    public static let maxJobs = 16
    /// Opens the extra connections of a parallel walk (closed when the run ends).
    public var connect: (@Sendable () async throws -> PostgresConnection)?

    public init(
        settings: ClearTokensSettings, indexedFraction: Double = 0.1, tables: DOTTables = .standard, jobs: Int = 1,
        connect: (@Sendable () async throws -> PostgresConnection)? = nil
    ) {
        self.settings = settings
        self.indexedFraction = indexedFraction
        self.tables = tables
        self.jobs = min(max(jobs, 1), Self.maxJobs)
        self.connect = connect
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
                // Committing without waiting for the WAL flush loses at most the last batches on a
                // server crash: they are rolled back as a whole and the next run deletes their rows.
                try await connection.execute("SET synchronous_commit TO off")
                let helpers = try await openHelpers()
                do {
                    steps = try await deleteSteps(on: connection, helpers: helpers, cutoffs: cutoffs, progress: progress)
                } catch {
                    for helper in helpers { await helper.close() }
                    throw error
                }
                for helper in helpers { await helper.close() }
                try await connection.execute("RESET synchronous_commit")
            }
        } catch {
            if !dryRun { _ = try? await connection.execute("RESET synchronous_commit") }
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

    /// The passes of one run, in DOT's order: a step driven by its cleanup index where `indexed` says
    /// so, else the primary-key walk (steps 1–3 then share one walk over the refresh tokens, unless all
    /// three that run are index-driven).
    static func passes(cutoffs: ClearTokensCutoffs, indexed: Set<ClearTokensStep>) -> [ClearTokensPass] {
        let refreshSteps = ClearTokensWalk.refreshTokens.steps.filter { !$0.isSkipped(cutoffs) }
        var passes: [ClearTokensPass] =
            refreshSteps.allSatisfy(indexed.contains) ? refreshSteps.map { .indexed($0) } : [.walk(.refreshTokens)]
        for step in [ClearTokensStep.expiredAccessTokens, .expiredIDTokens, .expiredGrants] {
            passes.append(indexed.contains(step) ? .indexed(step) : .walk(ClearTokensWalk.pass(for: step)))
        }
        return passes
    }

    /// The steps to drive by their cleanup index: those whose indexes exist and whose rows to delete
    /// are few enough (``indexedFraction``), by a probe that counts at most that many through the index.
    private func indexedSteps(on connection: PostgresConnection, cutoffs: ClearTokensCutoffs) async throws -> Set<ClearTokensStep> {
        guard indexedFraction > 0 else { return [] }
        let indexes = try await DOTSchema.validCleanupIndexes(on: connection, tables: tables)
        var chosen = Set<ClearTokensStep>()
        for step in ClearTokensStep.allCases where !step.isSkipped(cutoffs) && step.cleanupIndexes.allSatisfy(indexes.contains) {
            if indexedFraction >= 1 {
                chosen.insert(step)
                continue
            }
            let rows = try await connection.run(tables.rewrite(step.walkedTableRows)).rows.first?.decode(Double?.self, column: 0) ?? nil
            guard let rows, rows > 0 else { continue }  // never analysed: the walk is the safe choice
            let cap = Int((rows * indexedFraction).rounded(.up))
            let found = try await connection.run(tables.rewrite(step.candidateCount(cutoffs, limit: cap + 1))).rows.first?
                .decode(Int64.self, column: 0) ?? 0
            if found <= cap { chosen.insert(step) }
        }
        return chosen
    }

    /// The deleting run: the passes in order, each step's result reported as soon as it is known.
    private func deleteSteps(
        on connection: PostgresConnection,
        helpers: [PostgresConnection],
        cutoffs: ClearTokensCutoffs,
        progress: @Sendable (ClearTokensProgress) -> Void
    ) async throws -> [ClearTokensSummary.StepResult] {
        let indexed = try await indexedSteps(on: connection, cutoffs: cutoffs)
        var results: [ClearTokensStep: ClearTokensSummary.StepResult] = [:]
        for step in ClearTokensStep.allCases where step.isSkipped(cutoffs) {
            results[step] = .init(step: step, deleted: 0, skipped: true, batches: 0, seconds: 0, via: "")
        }
        func report(upTo done: Set<ClearTokensStep>) {
            // Steps are reported in DOT's order: a step once it and every step before it is known.
            for step in ClearTokensStep.allCases {
                guard let result = results[step] else { return }
                if done.contains(step) { progress(.step(result)) }
            }
        }
        var reported = Set<ClearTokensStep>()
        for pass in Self.passes(cutoffs: cutoffs, indexed: indexed) {
            let passResults: [ClearTokensSummary.StepResult]
            if case .walk(let walk) = pass, !helpers.isEmpty {
                passResults = try await parallelWalk(walk, on: [connection] + helpers, cutoffs: cutoffs, progress: progress)
            } else {
                passResults = try await run(pass, on: connection, cutoffs: cutoffs, progress: progress)
            }
            for result in passResults {
                results[result.step] = result
            }
            let known = Set(results.keys)
            let ready = ClearTokensStep.allCases.prefix { known.contains($0) }
            report(upTo: Set(ready).subtracting(reported))
            reported.formUnion(ready)
        }
        return ClearTokensStep.allCases.map { results[$0]! }
    }

    /// One pass, batch after batch; returns the results of the steps it performed.
    private func run(
        _ pass: ClearTokensPass,
        on connection: PostgresConnection,
        cutoffs: ClearTokensCutoffs,
        progress: @Sendable (ClearTokensProgress) -> Void
    ) async throws -> [ClearTokensSummary.StepResult] {
        let started = ContinuousClock.now
        let steps = pass.steps.filter { !$0.isSkipped(cutoffs) }
        var deleted = [Int](repeating: 0, count: pass.steps.count)
        var batches = 0
        var fraction = 0.0
        func batchDone() async throws {
            batches += 1
            progress(.batch(steps, deletedSoFar: deleted.reduce(0, +), batches: batches, fraction: fraction))
            if settings.batchInterval > 0 {
                // Checked: a setting of any size sleeps at most a day per batch instead of trapping.
                try await Task.sleep(for: .milliseconds(Int64(min(settings.batchInterval, 86_400) * 1000)))
            }
        }
        switch pass {
        case .walk(let walk):
            let range = try await connection.run(tables.rewrite(walk.idRange)).rows.first
            var next = try range?.decode(Int64?.self, column: 0)
            let first = next ?? 0
            let last = try range?.decode(Int64?.self, column: 1) ?? first
            while let low = next {
                try Task.checkCancellation()
                // Saturating: ids near Int64.max or a huge batch size must not overflow.
                let (sum, overflow) = low.addingReportingOverflow(Int64(clamping: settings.batchSize) - 1)
                let high = overflow ? Int64.max : sum
                let row = try await Self.batch(tables.rewrite(walk.batch(cutoffs, from: low, through: high)), on: connection)
                for index in deleted.indices { deleted[index] += Int(try row.decode(Int64.self, column: index)) }
                next = try row.decode(Int64?.self, column: deleted.count)
                fraction = next == nil ? 1 : MaintenanceProgress.fraction(of: min(high, last), from: first, through: max(last, first))
                try await batchDone()
            }
        case .indexed(let step):
            var cursor: ClearTokensCursor?
            while true {
                try Task.checkCancellation()
                let query = step.indexedBatch(cutoffs, after: cursor, limit: settings.batchSize)
                let row = try await Self.batch(tables.rewrite(query), on: connection)
                let picked = try row.decode(Int64.self, column: 0)
                deleted[0] += Int(try row.decode(Int64.self, column: 1))
                if picked == 0 { break }
                try await batchDone()
                if picked < settings.batchSize { break }
                cursor = ClearTokensCursor(
                    key: try row.decode(Date?.self, column: 2), id: try row.decode(Int64.self, column: 3)
                )
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        return zip(pass.steps, deleted).compactMap { step, count in
            step.isSkipped(cutoffs)
                ? nil : .init(step: step, deleted: count, skipped: false, batches: batches, seconds: seconds, via: pass.via)
        }
    }

    /// Runs one batch statement, again when PostgreSQL chose it as a deadlock victim or failed it on
    /// a serialization conflict with the application (the batch rolled back, so a rerun is safe).
    static func batch(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> PostgresRow {
        var attempt = 0
        while true {
            do {
                guard let row = try await connection.run(query).rows.first else {
                    throw PostgresError(.decoding, message: "a cleartokens batch returned no row")
                }
                return row
            } catch let error as PostgresError
                where attempt < 3 && (error.sqlState == .deadlockDetected || error.sqlState == .serializationFailure)
            {
                attempt += 1
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
    }

    private func countSteps(
        on connection: PostgresConnection,
        cutoffs: ClearTokensCutoffs
    ) async throws -> [ClearTokensSummary.StepResult] {
        let tables = tables
        return try await connection.transaction { conn in
            try conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return try ClearTokensStep.allCases.map { step in
                let started = ContinuousClock.now
                if step.isSkipped(cutoffs) {
                    return .init(step: step, deleted: 0, skipped: true, batches: 0, seconds: 0, via: "")
                }
                let count = try conn.query(tables.rewrite(step.dryRunCount(cutoffs))).rows.first?.decode(Int64.self, column: 0) ?? 0
                return .init(
                    step: step, deleted: Int(count), skipped: false, batches: 0,
                    seconds: (ContinuousClock.now - started).seconds, via: "count"
                )
            }
        }
    }

    /// `2026-11-30T01:56:34.908906Z`.
    static func iso8601(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = CivilDate.floorDiv(micros, 1_000_000)
        return CivilDate.isoUTC(seconds: seconds, fraction: Int(micros - seconds * 1_000_000), fractionDigits: 6)
    }
}

