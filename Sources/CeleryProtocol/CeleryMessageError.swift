/// Why a message pulled from a queue cannot be run.
///
/// A malformed message is a value, not a crash: the worker dead-letters it with ``reason`` and, when ``taskID`` could
/// still be read, writes a `FAILURE` result so a Python caller's `AsyncResult.get()` does not wait forever.
///
/// Nothing here ever contains task arguments: ``reason`` and ``description`` name fields and JSON types only.
/// Equality compares the code only.
public struct CeleryMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum _Code: Sendable, Hashable {
            case invalidUTF8
            case invalidJSON
            case notAnObject
            case missingField(String)
            case wrongType(String)
            case invalidTimestamp(String)
            case unsupportedContentType
            case unsupportedContentEncoding
            case unsupportedBodyEncoding
            case badBase64
            case badBody
            case unsupportedProtocol
        }

        private let code: _Code
        private init(_ code: _Code) { self.code = code }

        /// The envelope (or a decoded body) is not UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// The envelope is not JSON.
        public static let invalidJSON = Code(.invalidJSON)
        /// The envelope is JSON but not an object.
        public static let notAnObject = Code(.notAnObject)
        /// A required field is absent; `name` is its dotted path, e.g. `headers.id`.
        public static func missingField(_ name: String) -> Code { Code(.missingField(name)) }
        /// A field has a JSON type the protocol does not allow; `field` is its dotted path.
        public static func wrongType(_ field: String) -> Code { Code(.wrongType(field)) }
        /// `headers.eta` or `headers.expires` is a string but not an ISO-8601 timestamp.
        public static func invalidTimestamp(_ field: String) -> Code { Code(.invalidTimestamp(field)) }
        /// `content-type` is not `application/json` (Celery's other serializers, pickle/yaml/msgpack, are not read).
        public static let unsupportedContentType = Code(.unsupportedContentType)
        /// `content-encoding` is not UTF-8.
        public static let unsupportedContentEncoding = Code(.unsupportedContentEncoding)
        /// `properties.body_encoding` is neither `base64` nor absent.
        public static let unsupportedBodyEncoding = Code(.unsupportedBodyEncoding)
        /// The body claims base64 but is not.
        public static let badBase64 = Code(.badBase64)
        /// The body is not JSON `[args(list), kwargs(object), embed(object|null)]` (or `[args, kwargs]`).
        public static let badBody = Code(.badBody)
        /// A Celery protocol 1 message (task name in the body, not in `headers.task`).
        public static let unsupportedProtocol = Code(.unsupportedProtocol)

        public var description: String {
            switch code {
            case .invalidUTF8: return "invalidUTF8"
            case .invalidJSON: return "invalidJSON"
            case .notAnObject: return "notAnObject"
            case .missingField(let name): return "missingField(\(name))"
            case .wrongType(let field): return "wrongType(\(field))"
            case .invalidTimestamp(let field): return "invalidTimestamp(\(field))"
            case .unsupportedContentType: return "unsupportedContentType"
            case .unsupportedContentEncoding: return "unsupportedContentEncoding"
            case .unsupportedBodyEncoding: return "unsupportedBodyEncoding"
            case .badBase64: return "badBase64"
            case .badBody: return "badBody"
            case .unsupportedProtocol: return "unsupportedProtocol"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// A one-line explanation for a dead-letter record or a `FAILURE` result. Names fields and types, never values.
    public var reason: String
    /// The task id, when `headers.id` (or a protocol 1 body's `id`) could be read.
    public var taskID: String?
    /// The task name, when `headers.task` could be read.
    public var taskName: String?

    public init(code: Code, reason: String, taskID: String? = nil, taskName: String? = nil) {
        self.code = code
        self.reason = reason
        self.taskID = taskID
        self.taskName = taskName
    }

    public var description: String {
        var text = "CeleryMessageError(\(code)): \(reason)"
        if let taskName { text += " [task \(taskName)" + (taskID.map { " id \($0)" } ?? "") + "]" }
        else if let taskID { text += " [id \(taskID)]" }
        return text
    }

    public static func == (lhs: CeleryMessageError, rhs: CeleryMessageError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }
}
