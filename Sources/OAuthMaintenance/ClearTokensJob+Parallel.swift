import CivilCalendar
import Foundation
import Postgres
import Synchronization

/// `--jobs N`: each primary-key walk split across N connections walking at once. The walk's windows of
/// `batchSize` ids are dealt out in turn (connection k takes windows k, k+N, k+2N, …), so the N
/// connections work side by side on neighbouring pages of the table instead of N distant regions
/// (one working set, the table read in order). The passes still run one after the other in DOT's
/// order, and the single-flight lock stays on the run's own connection throughout.
///
/// The connections delete exactly the rows one walk deletes: a walk's filters read only columns its own
/// deletions never change (see ``ClearTokensWalk``), and the SET NULL / CASCADE updates of two windows
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

    private struct Tally: Sendable {
        var deleted: [Int]
        var batches = 0
        var fractions: [Double]
    }

    /// The connections' shared counts.
    private final class SharedTally: Sendable {
        let state: Mutex<Tally>
        init(_ tally: Tally) { state = Mutex(tally) }
    }

    /// One walk over `connections.count` connections at once.
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
        let stripes = connections.count
        let tally = SharedTally(Tally(deleted: [Int](repeating: 0, count: walk.steps.count), fractions: [Double](repeating: 0, count: stripes)))
        try await withoutActuallyEscaping(progress) { report in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, connection) in connections.enumerated() {
                    group.addTask {
                        try await self.walkStripe(
                            walk, stripe: index, of: stripes, first: first, last: last, on: connection, cutoffs: cutoffs
                        ) { counts, fraction in
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

    /// Walks windows `stripe`, `stripe + stripes`, … of `batchSize` ids from `first` up to `last`;
    /// `batchDone` gets each batch's counts and how far the walk is. After a window, a stripe skips to
    /// its first window at or after the next existing id, so gaps in the ids cost nothing.
    private func walkStripe(
        _ walk: ClearTokensWalk,
        stripe: Int,
        of stripes: Int,
        first: Int64,
        last: Int64,
        on connection: PostgresConnection,
        cutoffs: ClearTokensCutoffs,
        batchDone: @Sendable ([Int], Double) -> Void
    ) async throws {
        let width = Int64(settings.batchSize)
        let count = Int64(stripes)
        let span = Double(last) - Double(first) + 1
        var window = Int64(stripe)
        while true {
            try Task.checkCancellation()
            let (offset, overflowA) = window.multipliedReportingOverflow(by: width)
            let (low, overflowB) = first.addingReportingOverflow(offset)
            guard !overflowA, !overflowB, low <= last else { break }
            let (end, overflowC) = low.addingReportingOverflow(width - 1)
            let high = overflowC ? Int64.max : end
            let row = try await Self.batch(tables.rewrite(walk.batch(cutoffs, from: low, through: high)), on: connection)
            let counts = try walk.steps.indices.map { Int(try row.decode(Int64.self, column: $0)) }
            let next = try row.decode(Int64?.self, column: walk.steps.count)
            let finished = next.map { $0 > last } ?? true
            batchDone(counts, finished ? 1 : min((Double(high) - Double(first) + 1) / span, 1))
            if settings.batchInterval > 0 {
                try await Task.sleep(for: .milliseconds(Int64(min(settings.batchInterval, 86_400) * 1000)))
            }
            guard let next, !finished else { break }
            // The window holding `next`, then this stripe's first window at or after it.
            let (distance, overflowD) = next.subtractingReportingOverflow(first)
            guard !overflowD else { break }
            let holding = distance / width
            // Ids near Int64.max with tiny batches: a window number past Int64.max lies past `last` too, so stop.
            let (following, overflowE) = window.addingReportingOverflow(count)
            guard !overflowE else { break }
            let (ahead, overflowF) = holding.addingReportingOverflow((Int64(stripe) - holding % count + count) % count)
            guard holding <= following || !overflowF else { break }
            window = holding <= following ? following : ahead
        }
    }
}
