/// A DOT setting in the worker's environment that does not parse: the worker refuses to start (rather than
/// fail every task). The description is one line naming the setting, as Django's `ImproperlyConfigured` would.
public struct WorkerTasksConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which settings. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case clearTokensSettings, createApplicationSettings, swappedModels
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A `cleartokens` setting (`CLEAR_EXPIRED_TOKENS_BATCH_SIZE`, `REFRESH_TOKEN_EXPIRE_SECONDS`, …).
        public static let clearTokensSettings = Code(.clearTokensSettings)
        /// A `createapplication` setting (`ALLOWED_REDIRECT_URI_SCHEMES`, the password hasher, …).
        public static let createApplicationSettings = Code(.createApplicationSettings)
        /// A swapped-model setting (`OAUTH2_PROVIDER_APPLICATION_MODEL`, …, `AUTH_USER_MODEL`).
        public static let swappedModels = Code(.swappedModels)

        public var description: String {
            base.rawValue
        }
    }

    /// Which settings.
    public var code: Code
    /// The settings parser's one-line explanation (names the setting; never a secret).
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `ImproperlyConfigured: <reason>`.
    public var description: String {
        "ImproperlyConfigured: \(reason)"
    }
}
