/// An error from the Redis client: a failed connect, a lost connection, a timeout, a malformed URL or a
/// top-level error reply from the server.
///
/// Redaction: ``description`` never contains command arguments, passwords or URL credentials. Messages
/// are built from fixed text, `strerror`/`gai_strerror`/OpenSSL reason strings and hiredis' parser `errstr`
/// (which name only socket-, TLS- or protocol-level causes, plus file paths from the URL) and, for server
/// replies, the server's message with every quoted span ('…', `…`, "…") replaced by `…` and anything
/// after "with args beginning with" dropped, since Redis echoes user input only in such places.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong. New codes may be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum _Code: String, Sendable, Hashable {
            case io, eof, `protocol`, outOfMemory, other, timeout, server, unexpectedReply, invalidURL,
                invalidConfiguration, invalidCommand, connectionClosed, tls, failover
        }

        private let value: _Code
        private init(_ value: _Code) { self.value = value }

        /// A read or write on the socket failed (`errno`), or the connect failed.
        public static let io = Code(.io)
        /// The server closed the connection.
        public static let eof = Code(.eof)
        /// The server sent bytes that are not valid RESP (hiredis' reader refused them).
        public static let `protocol` = Code(.protocol)
        /// Memory could not be allocated (hiredis' reader or formatter, an OpenSSL object).
        public static let outOfMemory = Code(.outOfMemory)
        /// Any other failure, e.g. a host name that does not resolve (`getaddrinfo`).
        public static let other = Code(.other)
        /// The connect or the command did not complete within its timeout. The connection is dead.
        public static let timeout = Code(.timeout)
        /// The server answered with an error reply; ``RedisError/serverPrefix`` holds its first word.
        public static let server = Code(.server)
        /// The server answered with a reply of a kind the client did not expect (e.g. AUTH not `+OK`).
        public static let unexpectedReply = Code(.unexpectedReply)
        /// A Redis URL could not be parsed.
        public static let invalidURL = Code(.invalidURL)
        /// A configuration value is out of range (e.g. a timeout that is not positive).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// A command with no arguments at all (nothing was sent).
        public static let invalidCommand = Code(.invalidCommand)
        /// The connection was closed, or died after an earlier I/O error, and cannot be used again.
        public static let connectionClosed = Code(.connectionClosed)
        /// TLS failed for a reason a retry will not fix: the server's certificate is not trusted or does not
        /// name the host, the server does not speak TLS, a CA or client certificate file cannot be read.
        public static let tls = Code(.tls)
        /// The server is not a writable master (yet): it answered `-READONLY` (a replica, e.g. a master
        /// demoted by a failover) or `-LOADING` (still loading its data), or the master a sentinel named is
        /// not one (`ROLE`). The connection is closed; a new connect (through the sentinels, when
        /// configured) finds the current master. Transient.
        public static let failover = Code(.failover)

        public var description: String { value.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// The first word of a server error reply (`ERR`, `WRONGTYPE`, `NOAUTH`, `WRONGPASS`, …) for
    /// ``Code/server``; nil otherwise.
    public let serverPrefix: String?
    /// A human-readable explanation, free of arguments and credentials.
    public let message: String

    /// Creates an error. `message` must not contain command arguments or credentials.
    public init(_ code: Code, _ message: String, serverPrefix: String? = nil) {
        self.code = code
        self.message = message
        self.serverPrefix = serverPrefix
    }

    /// True for errors after which a new connection may well succeed: I/O, EOF, timeout, a closed
    /// connection, a failover (``Code/failover``), and ``Code/other`` (a host name that does not resolve,
    /// often a DNS that is not ready yet). Server replies, bad URLs, TLS and protocol errors are permanent.
    public var isTransient: Bool {
        [.io, .eof, .timeout, .connectionClosed, .other, .failover].contains(code)
    }

    public var description: String {
        if let serverPrefix {
            return "RedisError(\(code), \(serverPrefix)): \(message)"
        }
        return "RedisError(\(code)): \(message)"
    }

    public var debugDescription: String { description }

    /// An error for a server error reply, with quoted spans of the message redacted.
    static func server(_ reply: String, context: String? = nil) -> RedisError {
        let prefix = reply.prefix { !$0.isWhitespace }
        let redacted = redactServerMessage(reply)
        let message = context.map { "\($0): \(redacted)" } ?? redacted
        return RedisError(.server, message, serverPrefix: prefix.isEmpty ? "ERR" : String(prefix))
    }

    /// Replaces every span quoted with ', ` or " by `…` and cuts the message at "with args beginning
    /// with", where Redis echoes the arguments of an unknown command.
    static func redactServerMessage(_ message: String) -> String {
        var text = Substring(message)
        if let range = text.firstRange(of: "with args beginning with") {
            text = text[..<range.lowerBound] + "with args beginning with: …"
        }
        var result = ""
        var openQuote: Character?
        for character in text {
            if let quote = openQuote {
                if character == quote {
                    result.append("…")
                    result.append(character)
                    openQuote = nil
                }
            } else {
                result.append(character)
                if character == "'" || character == "`" || character == "\"" {
                    openQuote = character
                }
            }
        }
        if openQuote != nil { result.append("…") }
        return result
    }
}
