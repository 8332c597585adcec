import CivilCalendar
import Foundation
import Synchronization

/// Whether a worker is healthy, for `/healthz`: every slot has its Redis connection, the heartbeat was written
/// within the heartbeat TTL, and the worker is not shutting down. Read from the metrics server's thread: only a
/// lock, never I/O.
public final class WorkerHealth: Sendable {
    private struct State {
        var lastHeartbeat: ContinuousClock.Instant?
        var disconnectedSlots: Set<Int> = []
        var stopping = false
    }

    private let state = Mutex(State())
    /// How old the last heartbeat may be.
    public let heartbeatTTL: Duration

    public init(heartbeatTTL: Duration, slots: Int) {
        self.heartbeatTTL = heartbeatTTL
        state.withLock { $0.disconnectedSlots = Set(0..<max(0, slots)) }
    }

    public func heartbeatWritten(at instant: ContinuousClock.Instant = .now) {
        state.withLock { $0.lastHeartbeat = instant }
    }

    public func slot(_ slot: Int, connected: Bool) {
        state.withLock { state in
            if connected { state.disconnectedSlots.remove(slot) } else { state.disconnectedSlots.insert(slot) }
        }
    }

    public func stopping() {
        state.withLock { $0.stopping = true }
    }

    /// `(true, "ok")`, or false with a one-line reason.
    public func status(now: ContinuousClock.Instant = .now) -> (healthy: Bool, reason: String) {
        state.withLock { state in
            if state.stopping { return (false, "shutting down") }
            guard let last = state.lastHeartbeat else { return (false, "starting: no heartbeat written yet") }
            let age = now - last
            if age > heartbeatTTL {
                return (false, "heartbeat stale: last written \(Self.seconds(age)) s ago (TTL \(Self.seconds(heartbeatTTL)) s); Redis unreachable?")
            }
            if let slot = state.disconnectedSlots.min() {
                return (false, "slot \(slot) has no Redis connection (\(state.disconnectedSlots.count) slot(s) down)")
            }
            return (true, "ok")
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f", duration.seconds)
    }
}
