/// The bounds within which a task message may override `cleartokens` settings (the worker's environment is the
/// operator's and is not bounded here). Whoever can write to the broker can send these overrides, so a message
/// cannot make cleartokens delete tokens that are younger than a minute, sleep for an hour between batches, or
/// run batches large enough to hold locks for minutes. `oauthq worker --no-setting-overrides` ignores them all.
extension ClearTokensSettings {
    /// Bounds on overridden settings.
    public enum OverrideBounds {
        /// `REFRESH_TOKEN_EXPIRE_SECONDS`: unset/0 (never age-expire) or at least a minute.
        public static let minimumRefreshTokenExpireSeconds = 60.0
        /// `REFRESH_TOKEN_GRACE_PERIOD_SECONDS`: at most 10 years.
        public static let maximumGracePeriodSeconds = 10 * 365 * 86_400.0
        /// `CLEAR_EXPIRED_TOKENS_BATCH_SIZE`: 1…100,000.
        public static let batchSizes = 1...100_000
        /// `CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL`: 0…60 s.
        public static let maximumBatchIntervalSeconds = 60.0
    }

    /// Why the settings fall outside ``OverrideBounds`` for the keys a message overrode, or nil when they are
    /// within them. The reason names the setting and the bound, never the value.
    public func overrideViolation(overridden keys: Set<Key>) -> String? {
        for key in Key.allCases where keys.contains(key) {
            switch key {
            case .refreshTokenExpireSeconds:
                if let seconds = refreshTokenExpireSeconds, seconds != 0, !(seconds >= OverrideBounds.minimumRefreshTokenExpireSeconds) {
                    return "\(key.rawValue) from a task must be 0 (unset) or at least \(Int(OverrideBounds.minimumRefreshTokenExpireSeconds)) seconds"
                }
            case .refreshTokenGracePeriodSeconds:
                if !(refreshTokenGracePeriodSeconds >= 0 && refreshTokenGracePeriodSeconds <= OverrideBounds.maximumGracePeriodSeconds) {
                    return "\(key.rawValue) from a task must be between 0 and \(Int(OverrideBounds.maximumGracePeriodSeconds)) seconds"
                }
            case .refreshTokenReuseProtection:
                break
            case .batchSize:
                if !OverrideBounds.batchSizes.contains(batchSize) {
                    return "\(key.rawValue) from a task must be between \(OverrideBounds.batchSizes.lowerBound) and \(OverrideBounds.batchSizes.upperBound)"
                }
            case .batchInterval:
                if !(batchInterval >= 0 && batchInterval <= OverrideBounds.maximumBatchIntervalSeconds) {
                    return "\(key.rawValue) from a task must be between 0 and \(Int(OverrideBounds.maximumBatchIntervalSeconds)) seconds"
                }
            }
        }
        return nil
    }
}
