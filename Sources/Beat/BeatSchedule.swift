public import Foundation

/// When an entry fires: a cron expression or a fixed interval.
///
/// Times are whole unix seconds. Interval ticks are aligned to the unix epoch (`every 5m` fires at :00, :05, …;
/// `every 1d` at 00:00 UTC), so every beat computes the same scheduled times — the basis of the per-tick guard.
public enum BeatSchedule: Sendable, Hashable, CustomStringConvertible {
    case cron(CronExpression)
    /// Every this many seconds (≥ 1), aligned to the epoch.
    case interval(seconds: Int64)

    /// Parses `every 30s` / `every 5m` / `every 1h` / `every 1d` (also `sec`, `min`, `hour`, `day` and their
    /// plurals, and a space before the unit), or anything else as a cron expression.
    /// - Throws: ``BeatScheduleError`` with the reason.
    public init(parsing text: String) throws(BeatScheduleError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        if lower == "every" || lower.hasPrefix("every ") {
            let spec = String(lower.dropFirst(5)).trimmingCharacters(in: .whitespaces)
            guard let seconds = Self.intervalSeconds(spec) else {
                throw BeatScheduleError(
                    "interval \"\(trimmed)\" is not valid: write every <N><unit> with N ≥ 1 and unit s, m, h or d "
                        + "(e.g. every 30s, every 5m, every 1h, every 1d)")
            }
            self = .interval(seconds: seconds)
        } else {
            self = .cron(try CronExpression(trimmed))
        }
    }

    public var description: String {
        switch self {
        case .cron(let cron): return cron.source
        case .interval(let seconds):
            for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds % size == 0 {
                return "every \(seconds / size)\(unit)"
            }
            return "every \(seconds)s"
        }
    }

    /// The first scheduled time strictly after `after`.
    public func next(after: Int64, timeZone: TimeZone = .utc) -> Int64? {
        switch self {
        case .cron(let cron): return cron.next(after: after, timeZone: timeZone)
        case .interval(let seconds): return (CivilTime.floorDiv(after, seconds) + 1) * seconds
        }
    }

    /// The latest scheduled time in `(after, upTo]`, or nil when there is none: the one tick a restarted beat
    /// catches up.
    public func latest(after: Int64, upTo: Int64, timeZone: TimeZone = .utc) -> Int64? {
        guard upTo > after else { return nil }
        switch self {
        case .interval(let seconds):
            let tick = CivilTime.floorDiv(upTo, seconds) * seconds
            return tick > after ? tick : nil
        case .cron:
            // Look back over growing windows so a frequent schedule needs few steps and a rare one still works.
            for window: Int64 in [60, 3600, 86_400, 32 * 86_400, 367 * 86_400] {
                let from = max(after, upTo - window)
                guard var tick = next(after: from, timeZone: timeZone), tick <= upTo else {
                    if from == after { return nil }
                    continue
                }
                while let following = next(after: tick, timeZone: timeZone), following <= upTo { tick = following }
                return tick
            }
            // No tick in the last year (e.g. Feb 29): such a schedule is rare, so walking from `after` is short.
            var tick: Int64? = nil
            var cursor = after
            while let following = next(after: cursor, timeZone: timeZone), following <= upTo {
                tick = following
                cursor = following
            }
            return tick
        }
    }

    static func intervalSeconds(_ spec: String) -> Int64? {
        let compact = spec.replacingOccurrences(of: " ", with: "")
        let digits = compact.prefix { $0.isASCII && $0.isNumber }
        let unit = compact.dropFirst(digits.count)
        guard !digits.isEmpty, let n = Int64(digits), n >= 1 else { return nil }
        let size: Int64
        switch unit {
        case "s", "sec", "secs", "second", "seconds": size = 1
        case "m", "min", "mins", "minute", "minutes": size = 60
        case "h", "hour", "hours": size = 3600
        case "d", "day", "days": size = 86_400
        default: return nil
        }
        let (product, overflow) = n.multipliedReportingOverflow(by: size)
        guard !overflow, product <= 366 * 86_400 * 100 else { return nil }
        return product
    }
}
