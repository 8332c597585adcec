/// The bounds a worker holds every number of a task message to. A message with a value outside them is
/// rejected with a reason (a dead letter and a `FAILURE`), never converted with a trap.
///
/// Numbers arrive as JSON integers (`Int64`) or doubles; both are checked here before any arithmetic, so no
/// `Int(...)`, `Int64(...)`, `+` or `Duration` built from them can overflow afterwards.
public struct MessageLimits: Sendable, Hashable {
    /// The largest message (envelope bytes as stored) a worker decodes. Larger ones are dead-lettered unread.
    public var maximumMessageBytes: Int
    /// The longest time limit (`headers.timelimit`) accepted, in seconds.
    public var maximumTimeLimitSeconds: Double
    /// The largest `headers.retries` accepted.
    public var maximumRetries: Int

    /// 4 MiB, 7 days, 10,000 retries.
    public init(maximumMessageBytes: Int = 4 << 20, maximumTimeLimitSeconds: Double = 7 * 86_400, maximumRetries: Int = 10_000) {
        self.maximumMessageBytes = max(1024, maximumMessageBytes)
        self.maximumTimeLimitSeconds = maximumTimeLimitSeconds.isFinite ? min(max(maximumTimeLimitSeconds, 1), 365 * 86_400) : 7 * 86_400
        self.maximumRetries = min(max(0, maximumRetries), 1_000_000)
    }

    /// A time limit in seconds from a message: nil for "no limit" (nil, or zero like Celery's falsy values),
    /// the duration when it is finite and within `0 < s ≤ maximumTimeLimitSeconds`, else an error reason.
    public func timeLimit(_ seconds: Double?, field: String) -> Result<Duration?, BoundsViolation> {
        guard let seconds else { return .success(nil) }
        guard seconds.isFinite else { return .failure(BoundsViolation(field: field, reason: "is not a finite number")) }
        if seconds == 0 { return .success(nil) }
        guard seconds > 0 else { return .failure(BoundsViolation(field: field, reason: "is negative")) }
        guard seconds <= maximumTimeLimitSeconds else {
            return .failure(BoundsViolation(field: field, reason: "exceeds \(Int(maximumTimeLimitSeconds)) s"))
        }
        return .success(Self.duration(seconds: seconds))
    }

    /// `headers.retries` checked against `0...maximumRetries`.
    public func retries(_ value: Int) -> Result<Int, BoundsViolation> {
        guard value >= 0 else { return .failure(BoundsViolation(field: "headers.retries", reason: "is negative")) }
        guard value <= maximumRetries else {
            return .failure(BoundsViolation(field: "headers.retries", reason: "exceeds \(maximumRetries)"))
        }
        return .success(value)
    }

    /// A `Duration` of `seconds`, clamped to `0...365 days`, with NaN read as zero: never traps.
    public static func duration(seconds: Double) -> Duration {
        guard !seconds.isNaN, seconds > 0 else { return .zero }
        let clamped = min(seconds, 365 * 86_400)
        let whole = clamped.rounded(.towardZero)
        let nanoseconds = ((clamped - whole) * 1e9).rounded()
        return .seconds(Int64(whole)) + .nanoseconds(Int64(min(max(nanoseconds, 0), 999_999_999)))
    }
}

/// A number from outside the process that is out of its bounds: which field, and why.
public struct BoundsViolation: Error, Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "field \(field) \(reason)" }
}
