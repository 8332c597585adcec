/// Why a byte string is not a JSON value ``JSONValue/parse(_:)`` accepts.
///
/// The description names the problem and the byte offset only, never the text around it: parsed documents carry task
/// arguments, which may hold client secrets.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum _Code: String, Sendable, Hashable {
            case unexpectedEnd = "unexpected end of input"
            case unexpectedByte = "unexpected byte"
            case invalidUTF8 = "invalid UTF-8 in a string"
            case invalidEscape = "invalid escape sequence"
            case loneSurrogate = "unpaired UTF-16 surrogate escape"
            case controlCharacter = "unescaped control character in a string"
            case tooDeep = "nesting too deep"
            case numberOutOfRange = "number out of range (integers must fit in 64 bits, floats must be finite)"
            case trailingData = "extra data after the value"
        }

        private let code: _Code
        private init(_ code: _Code) { self.code = code }

        /// The input ended inside a value.
        public static let unexpectedEnd = Code(.unexpectedEnd)
        /// A byte that cannot start or continue a value here.
        public static let unexpectedByte = Code(.unexpectedByte)
        /// A string contains bytes that are not UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// A backslash escape that JSON does not define.
        public static let invalidEscape = Code(.invalidEscape)
        /// A `\uD8xx` escape without its pair (a Swift `String` cannot hold it).
        public static let loneSurrogate = Code(.loneSurrogate)
        /// A raw byte below 0x20 inside a string (Python's `strict=True` rejects it too).
        public static let controlCharacter = Code(.controlCharacter)
        /// Arrays/objects nested deeper than ``JSONValue/maximumDepth``.
        public static let tooDeep = Code(.tooDeep)
        /// An integer outside `Int64` or a float that overflows to infinity.
        public static let numberOutOfRange = Code(.numberOutOfRange)
        /// Non-whitespace after the top-level value.
        public static let trailingData = Code(.trailingData)

        public var description: String { code.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The byte offset where it went wrong.
    public var offset: Int

    public init(code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "\(code) at byte \(offset)" }
}
