/// What one `clearcimdapplications` run did: the task's structured result.
public struct ClearCIMDApplicationsSummary: Sendable, Codable, Equatable {
    /// Rows removed with the applications (Django's CASCADE), by kind.
    public struct Cascaded: Sendable, Codable, Equatable {
        public var accessTokens = 0
        public var refreshTokens = 0
        public var idTokens = 0
        public var grants = 0

        enum CodingKeys: String, CodingKey {
            case accessTokens = "access_tokens", refreshTokens = "refresh_tokens", idTokens = "id_tokens", grants
        }
    }

    /// Expired CIMD applications deleted: the number DOT prints.
    public var deleted: Int
    /// Candidates examined (expired CIMD applications when their page was read).
    public var examined: Int
    /// Candidates kept because they still hold a live token or grant.
    public var keptLive: Int
    /// Candidates that were refreshed, re-registered or deleted by someone else before their batch was
    /// locked (DOT's re-check under the lock drops them).
    public var changed: Int
    /// Rows the deletions cascaded to.
    public var cascaded: Cascaded
    /// Batches (transactions).
    public var batches: Int
    /// The batch size used.
    public var batchSize: Int
    /// The run's single `now` (ISO 8601, UTC, microseconds).
    public var now: String
    /// Wall time of the run.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case deleted, examined, keptLive = "kept_live", changed, cascaded, batches, batchSize = "batch_size", now, seconds
    }

    /// DOT's one line on stdout.
    public var dotOutputLine: String { "Deleted \(deleted) expired CIMD application(s)" }
}
