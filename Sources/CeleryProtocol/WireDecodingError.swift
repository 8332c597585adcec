/// Why a stored record (a ``CeleryResult`` or a ``DeadLetter``) could not be read. Names fields, never values.
/// Equality compares the code only.
public struct WireDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum _Code: Sendable, Hashable {
            case invalidJSON
            case notAnObject
            case missingField(String)
            case wrongType(String)
        }

        private let code: _Code
        private init(_ code: _Code) { self.code = code }

        /// Not JSON (or not UTF-8).
        public static let invalidJSON = Code(.invalidJSON)
        /// JSON, but not an object.
        public static let notAnObject = Code(.notAnObject)
        /// A required field is absent.
        public static func missingField(_ name: String) -> Code { Code(.missingField(name)) }
        /// A field has the wrong JSON type or an unreadable value.
        public static func wrongType(_ name: String) -> Code { Code(.wrongType(name)) }

        public var description: String {
            switch code {
            case .invalidJSON: return "invalidJSON"
            case .notAnObject: return "notAnObject"
            case .missingField(let name): return "missingField(\(name))"
            case .wrongType(let name): return "wrongType(\(name))"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// A one-line explanation.
    public var reason: String

    public init(code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "WireDecodingError(\(code)): \(reason)" }

    public static func == (lhs: WireDecodingError, rhs: WireDecodingError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// Parses `bytes` as a JSON object.
    static func object(from bytes: [UInt8]) -> Result<JSONObject, WireDecodingError> {
        switch JSONValue.parse(bytes) {
        case .failure(let error):
            return .failure(WireDecodingError(code: .invalidJSON, reason: "not JSON: \(error)"))
        case .success(.object(let object)):
            return .success(object)
        case .success(let other):
            return .failure(WireDecodingError(code: .notAnObject, reason: "a JSON \(other.typeName), expected an object"))
        }
    }
}
