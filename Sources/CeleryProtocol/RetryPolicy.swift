import CivilCalendar

/// Exponential backoff for retries, like Celery's `retry_backoff` (`get_exponential_backoff_interval`):
/// the ceiling for attempt `n` (0-based) is `min(maxDelay, base × 2ⁿ)`, and jitter picks the actual delay under it.
public struct RetryPolicy: Sendable, Hashable {
    /// How the delay is drawn under the ceiling.
    public enum Jitter: Sendable, Hashable {
        /// Exactly the ceiling.
        case none
        /// Uniform in `0...ceiling` (Celery's `retry_jitter=True`, AWS "full jitter").
        case full
        /// Uniform in `ceiling × minimumFraction ... ceiling` (fraction clamped to 0…1), so retries never bunch at 0.
        case bounded(minimumFraction: Double)
    }

    /// Retries allowed after the first run (Celery's `max_retries`, default 3). `nil` retries forever.
    public var maxRetries: Int?
    /// The first ceiling.
    public var base: Duration
    /// The largest ceiling (Celery's `retry_backoff_max`, 600 s).
    public var maxDelay: Duration
    /// How the delay is drawn.
    public var jitter: Jitter

    public init(maxRetries: Int? = 3, base: Duration = .seconds(1), maxDelay: Duration = .seconds(600), jitter: Jitter = .full) {
        self.maxRetries = maxRetries
        self.base = base
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// Whether a task that has already been retried `retries` times (its `headers.retries`) may be retried again.
    public func shouldRetry(retries: Int) -> Bool {
        guard let maxRetries else { return true }
        return retries < maxRetries
    }

    /// The ceiling for 0-based `attempt`: `min(maxDelay, base × 2^attempt)`, never negative.
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let baseSeconds = max(base.seconds, 0)
        let maxSeconds = max(maxDelay.seconds, 0)
        let exponent = Double(min(max(attempt, 0), 1024))
        let grown = baseSeconds * Double.pow2(exponent)
        return Self.duration(min(grown.isFinite ? grown : maxSeconds, maxSeconds))
    }

    /// The delay before retry `attempt` (0 for the first retry).
    public func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(forAttempt: attempt).seconds
        guard ceiling > 0 else { return .zero }
        switch jitter {
        case .none:
            return Self.duration(ceiling)
        case .full:
            return Self.duration(Double.random(in: 0...ceiling, using: &generator))
        case .bounded(let fraction):
            let f = fraction.isFinite ? min(max(fraction, 0), 1) : 0
            return Self.duration(Double.random(in: (ceiling * f)...ceiling, using: &generator))
        }
    }

    /// The delay before retry `attempt`, with the system generator.
    public func delay(forAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(forAttempt: attempt, using: &generator)
    }


    private static func duration(_ seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}

extension Double {
    /// 2^x for a non-negative integral x (inf beyond the double range).
    fileprivate static func pow2(_ x: Double) -> Double {
        x >= 1024 ? .infinity : Double(sign: .plus, exponent: Int(x), significand: 1)
    }
}
