/// A schedule, an entry or a schedule file that cannot be used, with a message that names the culprit
/// (`cron minute field "61": 61 is out of range 0-59`).
public struct BeatScheduleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message, ready for `oauthq: error: …`.
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
