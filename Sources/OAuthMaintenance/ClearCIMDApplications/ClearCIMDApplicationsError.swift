/// Why a `clearcimdapplications` run did not happen.
public struct ClearCIMDApplicationsError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case alreadyRunning = "already running"
            case invalidBatchSize = "invalid batch size"
        }
        private let base: Base
        /// Another run holds the single-flight lock (on any worker or machine).
        public static let alreadyRunning = Code(base: .alreadyRunning)
        /// `--batch-size` / `batch_size` below 1 (DOT's `CommandError`).
        public static let invalidBatchSize = Code(base: .invalidBatchSize)
        public var description: String { base.rawValue }
    }

    public let code: Code

    public init(code: Code) {
        self.code = code
    }

    /// DOT's own message for a bad batch size; for the lock, a sentence saying nothing was done.
    public var description: String {
        switch code {
        case .invalidBatchSize: "--batch-size must be a positive integer."
        case .alreadyRunning:
            "clearcimdapplications is already running elsewhere (another run holds its PostgreSQL advisory lock); nothing was done"
        default: code.description
        }
    }
}
