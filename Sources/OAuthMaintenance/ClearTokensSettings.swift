public import Foundation

/// The settings `cleartokens` reads, with Django OAuth Toolkit's names and defaults (docs/dot-compatibility.md#settings).
public struct ClearTokensSettings: Sendable, Equatable {
    /// `REFRESH_TOKEN_EXPIRE_SECONDS`: nil (or 0) means refresh tokens never age-expire.
    public var refreshTokenExpireSeconds: Double?
    /// `REFRESH_TOKEN_GRACE_PERIOD_SECONDS` (default 0).
    public var refreshTokenGracePeriodSeconds: Double
    /// `REFRESH_TOKEN_REUSE_PROTECTION` (default false): keep revoked refresh tokens until the expiry cutoff.
    public var refreshTokenReuseProtection: Bool
    /// `CLEAR_EXPIRED_TOKENS_BATCH_SIZE` (default 10,000).
    public var batchSize: Int
    /// `CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL` in seconds (default 0): a pause after every batch.
    public var batchInterval: Double

    public init(
        refreshTokenExpireSeconds: Double? = nil,
        refreshTokenGracePeriodSeconds: Double = 0,
        refreshTokenReuseProtection: Bool = false,
        batchSize: Int = 10_000,
        batchInterval: Double = 0
    ) {
        self.refreshTokenExpireSeconds = refreshTokenExpireSeconds
        self.refreshTokenGracePeriodSeconds = refreshTokenGracePeriodSeconds
        self.refreshTokenReuseProtection = refreshTokenReuseProtection
        self.batchSize = batchSize
        self.batchInterval = batchInterval
    }

    /// The setting names, as environment variables, task kwargs and DOT's `OAUTH2_PROVIDER` keys.
    public enum Key: String, CaseIterable, Sendable {
        case refreshTokenExpireSeconds = "REFRESH_TOKEN_EXPIRE_SECONDS"
        case refreshTokenGracePeriodSeconds = "REFRESH_TOKEN_GRACE_PERIOD_SECONDS"
        case refreshTokenReuseProtection = "REFRESH_TOKEN_REUSE_PROTECTION"
        case batchSize = "CLEAR_EXPIRED_TOKENS_BATCH_SIZE"
        case batchInterval = "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL"
    }

    /// A configuration error, with DOT's message where DOT has one (`ImproperlyConfigured`).
    public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Settings from string values (environment variables, flags, task kwargs rendered as text), keyed
    /// by DOT's names; a key that is absent or empty keeps the default. Invalid values are rejected
    /// with DOT's message before anything runs.
    public init(values: [String: String]) throws(ConfigurationError) {
        self.init()
        func given(_ key: Key) -> String? {
            guard let raw = values[key.rawValue]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        // DOT's order: the grace period is converted and checked before the expiry setting.
        if let raw = given(.refreshTokenGracePeriodSeconds) {
            guard let seconds = Self.seconds(raw) else {
                throw ConfigurationError(description: "REFRESH_TOKEN_GRACE_PERIOD_SECONDS must be in seconds")
            }
            refreshTokenGracePeriodSeconds = seconds
            try validateGracePeriod()
        }
        if let raw = given(.refreshTokenExpireSeconds) {
            guard let seconds = Self.seconds(raw), abs(seconds) <= Self.maxTimedeltaSeconds else {
                throw ConfigurationError(description: "REFRESH_TOKEN_EXPIRE_SECONDS must be either a timedelta or seconds")
            }
            refreshTokenExpireSeconds = seconds
        }
        if let raw = given(.refreshTokenReuseProtection) {
            switch raw.lowercased() {
            case "1", "true", "yes", "on": refreshTokenReuseProtection = true
            case "0", "false", "no", "off": refreshTokenReuseProtection = false
            default: throw ConfigurationError(description: "REFRESH_TOKEN_REUSE_PROTECTION must be true or false")
            }
        }
        if let raw = given(.batchSize) {
            guard let size = Int(raw) else {
                throw ConfigurationError(description: "CLEAR_EXPIRED_TOKENS_BATCH_SIZE must be a positive integer")
            }
            batchSize = size
        }
        if let raw = given(.batchInterval) {
            guard let seconds = Self.seconds(raw) else {
                throw ConfigurationError(description: "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL must be in seconds")
            }
            batchInterval = seconds
        }
        try validate()
    }

    /// Rejects negative values with DOT's messages, and batch settings DOT would crash on.
    public func validate() throws(ConfigurationError) {
        try validateGracePeriod()
        if let expire = refreshTokenExpireSeconds, expire < 0 {
            throw ConfigurationError(description: "REFRESH_TOKEN_EXPIRE_SECONDS must not be negative")
        }
        if batchSize < 1 {
            throw ConfigurationError(description: "CLEAR_EXPIRED_TOKENS_BATCH_SIZE must be a positive integer")
        }
        if batchInterval < 0 {
            throw ConfigurationError(description: "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL must not be negative")
        }
    }

    private func validateGracePeriod() throws(ConfigurationError) {
        if refreshTokenGracePeriodSeconds < 0 {
            throw ConfigurationError(description: "REFRESH_TOKEN_GRACE_PERIOD_SECONDS must not be negative")
        }
    }

    /// Python's `timedelta.max` in seconds: a larger EXPIRE makes DOT raise OverflowError, reported as
    /// "must be either a timedelta or seconds".
    static let maxTimedeltaSeconds: Double = 86_399_999_999_999

    /// True when refresh tokens never age-expire (EXPIRE unset or 0): DOT's command warns on stderr.
    public var expiryDisabled: Bool { (refreshTokenExpireSeconds ?? 0) == 0 }

    /// DOT's stderr warning when EXPIRE is unset (3.4.1, `management/commands/cleartokens.py`).
    public static let expiryDisabledWarning =
        "REFRESH_TOKEN_EXPIRE_SECONDS is not set (or is 0), so refresh tokens never "
        + "age-expire. cleartokens will only remove revoked and orphaned refresh tokens; "
        + "expired access and ID tokens that are still bound to a refresh token are kept "
        + "as long as that refresh token lives. Set REFRESH_TOKEN_EXPIRE_SECONDS to enable "
        + "expiry-based cleanup."

    /// A finite number of seconds, as Python's int()/float() would accept it.
    static func seconds(_ raw: String) -> Double? {
        guard let value = Double(raw), value.isFinite else { return nil }
        return value
    }

    /// DOT 3.4.1's cutoffs for one `now` (docs/dot-compatibility.md#cutoffs; `REFRESH_TOKEN_REUSE_PROTECTION` moves the first).
    public func cutoffs(now: Date) -> ClearTokensCutoffs {
        let expireCutoff = expiryDisabled ? nil : now.addingTimeInterval(-(refreshTokenExpireSeconds ?? 0))
        var revokedCutoff: Date? =
            refreshTokenGracePeriodSeconds != 0 ? now.addingTimeInterval(-refreshTokenGracePeriodSeconds) : now
        if refreshTokenReuseProtection { revokedCutoff = expireCutoff }
        return ClearTokensCutoffs(now: now, revoked: revokedCutoff, expire: expireCutoff)
    }
}

/// The three instants every step of one run compares against (fixed for the whole run).
public struct ClearTokensCutoffs: Sendable, Equatable {
    /// The run's single `now`.
    public let now: Date
    /// Revoked refresh tokens at or before this are deleted; nil skips step 1.
    public let revoked: Date?
    /// Refresh tokens whose access token expired at or before this are deleted; nil skips step 3.
    public let expire: Date?
}
