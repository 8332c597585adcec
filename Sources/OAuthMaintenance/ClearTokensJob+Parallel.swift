import Foundation
import Postgres
import Synchronization

/// `--jobs N`: each primary-key walk split into N contiguous id slices walked at once, one connection
/// each. The passes still run one after the other in DOT's order, and the single-flight lock stays on
/// the run's own connection throughout.
///
/// The slices delete exactly the rows one walk deletes: a walk's filters read only columns its own
/// deletions never change (see ``ClearTokensWalk``), and the SET NULL / CASCADE updates of two slices
/// never touch the same row (each access token names at most one source refresh token and one ID token,
/// each refresh token at most one access token). Every batch is still one statement and one
/// transaction; a deadlock or serialization failure reruns it.
extension ClearTokensJob {
    /// The extra connections of a parallel run (none for `jobs == 1`), each with the run's session settings.
    func openHelpers() async throws -> [PostgresConnection] {
        guard jobs > 1, let connect else { return [] }
        var helpers: [PostgresConnection] = []
        do {
            for _ in 1..<jobs {
                let helper = try await connect()
                helpers.append(helper)
                try await helper.execute("SET synchronous_commit TO off")
            }
        } catch {
            for helper in helpers { await helper.close() }
            throw error
        }
        return helpers
    }

    /// `first...last` cut into `count` contiguous slices (fewer when the range is smaller).
    static func slices(first: Int64, last: Int64, count: Int) -> [ClosedRange<Int64>] {
        guard last > first, count > 1 else { return [first...max(first, last)] }
        let (span, overflow) = last.subtractingReportingOverflow(first)
        guard !overflow else { return [first...last] }
        let width = UInt64(span) / UInt64(count) + 1
        var result: [ClosedRange<Int64>] = []
        var low = first
        while low <= last {
            let (end, over) = low.addingReportingOverflow(Int64(width) - 1)
            let high = over ? last : min(end, last)
            result.append(low...high)
            if high == last { break }
            low = high + 1
        }
        return result
    }

    private struct Tally: Sendable {
        var deleted: [Int]
        var batches = 0
        var fractions: [Double]
    }

    /// The slices' shared counts.
    private final class SharedTally: Sendable {
        let state: Mutex<Tally>
        init(_ tally: Tally) { state = Mutex(tally) }
    }

    /// One walk over `connections.count` slices at once.
    func parallelWalk(
        _ walk: ClearTokensWalk,
        on connections: [PostgresConnection],
        cutoffs: ClearTokensCutoffs,
        progress: @Sendable (ClearTokensProgress) -> Void
    ) async throws -> [ClearTokensSummary.StepResult] {
        let started = ContinuousClock.now
        let steps = walk.steps.filter { !$0.isSkipped(cutoffs) }
        let range = try await connections[0].run(tables.rewrite(walk.idRange)).rows.first
        guard let first = try range?.decode(Int64?.self, column: 0), let last = try range?.decode(Int64?.self, column: 1) else {
            return walk.steps.compactMap { step in
                step.isSkipped(cutoffs) ? nil : .init(step: step, deleted: 0, skipped: false, batches: 0, seconds: 0, via: "walk")
            }
        }
        let slices = Self.slices(first: first, last: last, count: connections.count)
        let tally = SharedTally(Tally(deleted: [Int](repeating: 0, count: walk.steps.count), fractions: [Double](repeating: 0, count: slices.count)))
        try await withoutActuallyEscaping(progress) { report in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, slice) in slices.enumerated() {
                    let connection = connections[index]
                    group.addTask {
                        try await self.walkSlice(walk, slice, on: connection, cutoffs: cutoffs) { counts, fraction in
                            let event = tally.state.withLock { tally -> ClearTokensProgress in
                                for i in counts.indices { tally.deleted[i] += counts[i] }
                                tally.batches += 1
                                tally.fractions[index] = fraction
                                let done = tally.fractions.reduce(0, +) / Double(tally.fractions.count)
                                return .batch(steps, deletedSoFar: tally.deleted.reduce(0, +), batches: tally.batches, fraction: done)
                            }
                            report(event)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let final = tally.state.withLock { $0 }
        let seconds = (ContinuousClock.now - started).seconds
        return zip(walk.steps, final.deleted).compactMap { step, count in
            step.isSkipped(cutoffs)
                ? nil : .init(step: step, deleted: count, skipped: false, batches: final.batches, seconds: seconds, via: "walk")
        }
    }

    /// Walks the ids of one slice in windows of the batch size; `batchDone` gets each batch's counts
    /// and how far the slice is.
    private func walkSlice(
        _ walk: ClearTokensWalk,
        _ slice: ClosedRange<Int64>,
        on connection: PostgresConnection,
        cutoffs: ClearTokensCutoffs,
        batchDone: @Sendable ([Int], Double) -> Void
    ) async throws {
        var next: Int64? = slice.lowerBound
        while let low = next, low <= slice.upperBound {
            try Task.checkCancellation()
            let (end, overflow) = low.addingReportingOverflow(Int64(settings.batchSize) - 1)
            let high = overflow ? slice.upperBound : min(end, slice.upperBound)
            let row = try await Self.batch(tables.rewrite(walk.batch(cutoffs, from: low, through: high)), on: connection)
            let counts = try walk.steps.indices.map { Int(try row.decode(Int64.self, column: $0)) }
            next = try row.decode(Int64?.self, column: walk.steps.count)
            let finished = next.map { $0 > slice.upperBound } ?? true
            batchDone(counts, finished ? 1 : MaintenanceProgress.fraction(of: high, from: slice.lowerBound, through: slice.upperBound))
            if settings.batchInterval > 0 {
                try await Task.sleep(for: .milliseconds(Int64(settings.batchInterval * 1000)))
            }
        }
    }
}
