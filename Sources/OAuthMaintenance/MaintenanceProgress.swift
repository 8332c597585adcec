/// How far a running maintenance step is: what a live terminal line, a periodic log line and the
/// worker's `PROGRESS` result state show. Reported after every batch; consumers rate-limit.
public struct MaintenanceProgress: Sendable, Equatable, Codable {
    /// The step's name (`clearcimdapplications`, or a cleartokens step such as `expired_access_tokens`).
    public var step: String
    /// Rows (for clearcimdapplications: applications) deleted so far by this step.
    public var deleted: Int
    /// Batches done so far.
    public var batches: Int
    /// How far the walk is through the step's id range, 0 to 1.
    public var fraction: Double

    public init(step: String, deleted: Int, batches: Int, fraction: Double) {
        self.step = step
        self.deleted = deleted
        self.batches = batches
        self.fraction = min(max(fraction.isFinite ? fraction : 0, 0), 1)
    }

    /// The fraction of `low...high` that is at or before `position` (1 when the range is one id).
    public static func fraction(of position: Int64, from low: Int64, through high: Int64) -> Double {
        guard high > low else { return 1 }
        return (Double(position) - Double(low) + 1) / (Double(high) - Double(low) + 1)
    }
}
