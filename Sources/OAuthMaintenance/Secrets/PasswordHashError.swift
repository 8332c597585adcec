/// Why a Django password hash could not be produced. Never carries the secret.
public struct PasswordHashError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case invalidSalt, invalidIterations, derivationFailed
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The salt was empty or contained `$` (Django: "salt must be provided and cannot contain $.").
        public static let invalidSalt = Code(.invalidSalt)
        /// The iteration count was below 1 or above `UInt32.max`.
        public static let invalidIterations = Code(.invalidIterations)
        /// swift-crypto refused to derive the key.
        public static let derivationFailed = Code(.derivationFailed)

        public var description: String {
            switch base {
            case .invalidSalt: "invalid salt"
            case .invalidIterations: "invalid iteration count"
            case .derivationFailed: "key derivation failed"
            }
        }
    }

    /// The kind of failure.
    public let code: Code

    /// Creates an error with the given code.
    public init(code: Code) { self.code = code }

    public var description: String { "PasswordHashError(\(code))" }
}
