public import CeleryProtocol

/// A task result that ``RedisResultBackend`` could not read. Its description names the task and the decoding
/// problem (a field name, never a value from the record).
public struct RedisResultBackendError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unreadableResult
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The stored (or published) record is not a Celery result: not JSON, not an object, or without a
        /// required field such as `status` or `task_id`.
        public static let unreadableResult = Code(.unreadableResult)

        public var description: String {
            base.rawValue
        }
    }

    /// What went wrong.
    public var code: Code
    /// The task whose result it is (as given by the caller).
    public var taskID: String
    /// Why the record did not decode.
    public var decoding: WireDecodingError

    public init(_ code: Code, taskID: String, decoding: WireDecodingError) {
        self.code = code
        self.taskID = taskID
        self.decoding = decoding
    }

    /// One line: `RedisResultBackendError.unreadableResult: the result of task <id> is not a Celery result (…)`.
    /// The id is cut to 100 printable ASCII characters.
    public var description: String {
        let id = String(taskID.unicodeScalars.prefix(100).map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
        return "RedisResultBackendError.\(code): the result of task \(id) is not a Celery result (\(decoding.reason))"
    }
}
