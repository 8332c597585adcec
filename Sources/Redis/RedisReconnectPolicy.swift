#if canImport(Glibc)
import CivilCalendar
import Glibc
#else
import Darwin
#endif

/// How ``RedisConnection/connect(_:retrying:)`` retries a failed connect: exponential backoff with
/// jitter, bounded by ``maxDelay``.
///
/// The delay before retry `n` (1-based) is `base(n) = min(maxDelay, initialDelay × multiplierⁿ⁻¹)`,
/// then reduced by a random fraction of at most ``jitter``: it lies in `[base × (1 − jitter), base]`.
/// So delays never exceed ``maxDelay``, and jitter spreads reconnecting workers apart.
public struct RedisReconnectPolicy: Sendable, Hashable {
    /// The delay before the first retry (before jitter).
    public var initialDelay: Duration
    /// The most any delay can be.
    public var maxDelay: Duration
    /// The growth factor between consecutive delays (≥ 1).
    public var multiplier: Double
    /// The largest fraction (0...1) taken off a delay at random.
    public var jitter: Double
    /// How many connect attempts in all, the first included; nil retries until the task is cancelled.
    public var maxAttempts: Int?

    /// Creates a policy; out-of-range values are clamped (`multiplier` ≥ 1, `jitter` in 0...1,
    /// `maxAttempts` ≥ 1, `maxDelay` ≥ `initialDelay` ≥ 0).
    public init(
        initialDelay: Duration = .milliseconds(100),
        maxDelay: Duration = .seconds(10),
        multiplier: Double = 2,
        jitter: Double = 0.5,
        maxAttempts: Int? = nil
    ) {
        self.initialDelay = max(.zero, initialDelay)
        self.maxDelay = max(self.initialDelay, maxDelay)
        self.multiplier = multiplier.isFinite ? max(1, multiplier) : 1
        self.jitter = jitter.isFinite ? min(1, max(0, jitter)) : 0
        self.maxAttempts = maxAttempts.map { max(1, $0) }
    }

    /// The delay before retry `retry` (1 is the delay after the first failed attempt), before jitter.
    public func baseDelay(forRetry retry: Int) -> Duration {
        let exponent = Double(max(0, retry - 1))
        let seconds = initialDelay.seconds * pow(multiplier, exponent)
        guard seconds.isFinite, seconds < maxDelay.seconds else { return maxDelay }
        return .nanoseconds(Int64(seconds * 1e9))
    }

    /// The delay before retry `retry`, with jitter drawn from `generator`.
    public func delay(forRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let base = baseDelay(forRetry: retry)
        guard jitter > 0 else { return base }
        let cut = Double.random(in: 0...jitter, using: &generator)
        return .nanoseconds(Int64(base.seconds * (1 - cut) * 1e9))
    }

    /// The delay before retry `retry`, with jitter from the system generator.
    public func delay(forRetry retry: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(forRetry: retry, using: &generator)
    }
}

