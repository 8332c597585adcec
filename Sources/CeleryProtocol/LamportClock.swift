/// A Lamport clock as kombu keeps one for events and pidbox replies: ``observe(_:)`` a clock another node
/// sent, ``tick()`` before sending. Clocks from the network are untrusted: one is adopted only within
/// ``maximumAdopted`` of our own value, and ticking saturates instead of overflowing, so no broadcast can make
/// the next tick trap.
public struct LamportClock: Sendable, Hashable {
    /// How far ahead of our own value a received clock may move us (kombu's clocks grow by a few per second).
    public static let maximumAdopted: Int64 = 1 << 40

    public private(set) var value: Int64

    public init(value: Int64 = 0) {
        self.value = min(max(value, 0), Int64.max - 1)
    }

    /// Adopts `received` when it is ahead of ours and plausible (non-negative, at most ``maximumAdopted`` ahead).
    public mutating func observe(_ received: Int64) {
        guard received > value else { return }
        let (distance, overflow) = received.subtractingReportingOverflow(value)
        guard !overflow, distance <= Self.maximumAdopted else { return }
        value = received
    }

    /// The next value to send; stays at `Int64.max` once there (never traps).
    public mutating func tick() -> Int64 {
        if value < Int64.max { value += 1 }
        return value
    }
}
