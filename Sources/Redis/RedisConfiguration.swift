/// Where and how to connect to Redis.
///
/// Usually built from a URL:
/// - `redis://[[user]:password@]host[:port][/db]` — TCP; the port defaults to 6379, the database to 0.
///   IPv6 hosts go in brackets (`redis://[::1]:6379`). `?db=N` is accepted when the path names none.
/// - `unix://[[user]:password@]/path/to/socket[?db=N]` — a Unix domain socket.
///
/// User and password are percent-decoded (`%40` for `@`, `%3A` for `:`). With a password the connection
/// sends `AUTH password` (or `AUTH user password`), then `SELECT db` when the database is not 0.
/// The password is redacted from ``description``, `debugDescription` and the mirror (`dump`).
public struct RedisConfiguration: Sendable, Hashable {
    /// How to reach the server.
    public enum Endpoint: Sendable, Hashable {
        /// A TCP host (name or address) and port.
        case tcp(host: String, port: Int)
        /// A Unix domain socket path.
        case unix(path: String)
    }

    /// How to reach the server.
    public var endpoint: Endpoint
    /// The database selected after connecting (`SELECT`), 0 by default.
    public var database: Int
    /// The ACL user for `AUTH user password`; nil sends `AUTH password` (the `default` user).
    public var username: String?
    /// The password; nil skips `AUTH`.
    public var password: String?
    /// The limit for establishing the TCP or Unix connection.
    public var connectTimeout: Duration
    /// The socket read/write timeout for every command. It must exceed the timeout of any blocking
    /// command sent on the connection (`BLMOVE … 5` needs more than 5 s): when it expires hiredis
    /// leaves the connection dead and the command throws ``RedisError/Code/timeout``.
    public var commandTimeout: Duration

    /// Creates a configuration from its parts.
    /// - Throws: ``RedisError`` (``RedisError/Code/invalidConfiguration``) for a negative database, a
    ///   port outside 1...65535 or a timeout that is not positive.
    public init(
        endpoint: Endpoint,
        database: Int = 0,
        username: String? = nil,
        password: String? = nil,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(30)
    ) throws {
        if case .tcp(let host, let port) = endpoint {
            guard !host.isEmpty else { throw RedisError(.invalidConfiguration, "empty host") }
            guard (1...65_535).contains(port) else { throw RedisError(.invalidConfiguration, "port out of range") }
        }
        if case .unix(let path) = endpoint, path.isEmpty {
            throw RedisError(.invalidConfiguration, "empty Unix socket path")
        }
        guard database >= 0, database <= Int(Int32.max) else {
            throw RedisError(.invalidConfiguration, "database index out of range")
        }
        guard connectTimeout > .zero, commandTimeout > .zero else {
            throw RedisError(.invalidConfiguration, "timeouts must be positive")
        }
        if username != nil && password == nil {
            throw RedisError(.invalidConfiguration, "a username needs a password")
        }
        self.endpoint = endpoint
        self.database = database
        self.username = username
        self.password = password
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// Parses a `redis://` or `unix://` URL (see the type's documentation).
    /// - Throws: ``RedisError`` with code ``RedisError/Code/invalidURL`` for a malformed URL. The message
    ///   names the faulty part but never repeats the credentials.
    public init(url: String, connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(30)) throws {
        let parsed = try RedisURLParser.parse(url)
        try self.init(
            endpoint: parsed.endpoint,
            database: parsed.database,
            username: parsed.username,
            password: parsed.password,
            connectTimeout: connectTimeout,
            commandTimeout: commandTimeout
        )
    }
}

extension RedisConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The configuration as a URL with the password replaced by `***`.
    public var description: String {
        var credentials = ""
        if password != nil {
            credentials = "\(username ?? ""):***@"
        }
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "redis://\(credentials)\(shownHost):\(port)/\(database)"
        case .unix(let path):
            return "unix://\(credentials)\(path)?db=\(database)"
        }
    }

    public var debugDescription: String { description }

    /// A mirror without the password, so `dump(configuration)` does not print it.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "endpoint": endpoint,
                "database": database,
                "username": username as Any,
                "password": password == nil ? "nil" : "***",
                "connectTimeout": connectTimeout,
                "commandTimeout": commandTimeout,
            ]
        )
    }
}

/// The URL grammar of ``RedisConfiguration/init(url:connectTimeout:commandTimeout:)``, parsed by hand
/// so that no message ever quotes the credentials.
enum RedisURLParser {
    struct Parsed {
        var endpoint: RedisConfiguration.Endpoint
        var database = 0
        var username: String?
        var password: String?
    }

    static func parse(_ url: String) throws -> Parsed {
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw invalid("missing scheme (expected redis:// or unix://)")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = url[schemeEnd.upperBound...]

        // Query (?db=N) first: it is the same for both schemes.
        var queryDatabase: Int?
        if let questionMark = rest.firstIndex(of: "?") {
            queryDatabase = try parseQuery(rest[rest.index(after: questionMark)...])
            rest = rest[..<questionMark]
        }
        if rest.contains("#") {
            throw invalid("fragments (#) are not allowed")
        }

        switch scheme {
        case "redis":
            let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            var authority = rest[..<authorityEnd]
            let path = rest[authorityEnd...]
            var parsed = Parsed(endpoint: .tcp(host: "127.0.0.1", port: 6379))
            if let at = authority.lastIndex(of: "@") {
                (parsed.username, parsed.password) = try parseUserInfo(authority[..<at])
                authority = authority[authority.index(after: at)...]
            }
            parsed.endpoint = try parseHostPort(authority)
            let pathDatabase = try parsePathDatabase(path)
            if let pathDatabase, let queryDatabase, pathDatabase != queryDatabase {
                throw invalid("the database is given twice, differently (path and ?db=)")
            }
            parsed.database = pathDatabase ?? queryDatabase ?? 0
            return parsed
        case "unix":
            var parsed = Parsed(endpoint: .unix(path: ""))
            // unix://[[user]:password@]/path: credentials sit before the first "/".
            if let slash = rest.firstIndex(of: "/"), let at = rest[..<slash].lastIndex(of: "@") {
                (parsed.username, parsed.password) = try parseUserInfo(rest[..<at])
                rest = rest[rest.index(after: at)...]
            }
            guard rest.first == "/" else {
                throw invalid("a unix:// URL needs an absolute socket path (unix:///path/to/socket)")
            }
            guard let path = percentDecode(rest), path.count > 1 else {
                throw invalid("invalid Unix socket path")
            }
            parsed.endpoint = .unix(path: path)
            parsed.database = queryDatabase ?? 0
            return parsed
        case "rediss":
            throw invalid("TLS (rediss://) is not supported by hiredis 0.14")
        default:
            let safe = scheme.count <= 16 && scheme.allSatisfy { $0.isLetter || $0.isNumber || "+-.".contains($0) }
            throw invalid(safe ? "unsupported scheme '\(scheme)' (expected redis:// or unix://)" : "unsupported scheme")
        }
    }

    private static func invalid(_ message: String) -> RedisError {
        RedisError(.invalidURL, "invalid Redis URL: \(message)")
    }

    private static func parseUserInfo(_ userInfo: Substring) throws -> (String?, String?) {
        guard let colon = userInfo.firstIndex(of: ":") else {
            throw invalid("credentials must be written ':password@' or 'user:password@'")
        }
        guard let user = percentDecode(userInfo[..<colon]),
            let password = percentDecode(userInfo[userInfo.index(after: colon)...])
        else {
            throw invalid("bad percent-encoding in the credentials")
        }
        return (user.isEmpty ? nil : user, password)
    }

    private static func parseHostPort(_ authority: Substring) throws -> RedisConfiguration.Endpoint {
        var host: Substring
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw invalid("unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        if host.isEmpty { host = "127.0.0.1" }
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:%".contains($0)) }) else {
            throw invalid("invalid host")
        }
        var port = 6379
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCII),
                let value = Int(portText), (1...65_535).contains(value)
            else {
                throw invalid("invalid port (expected 1-65535)")
            }
            port = value
        }
        return .tcp(host: String(host), port: port)
    }

    private static func parsePathDatabase(_ path: Substring) throws -> Int? {
        let digits = path.drop { $0 == "/" }
        guard path.count - digits.count <= 1 else { throw invalid("invalid path (expected /db)") }
        if digits.isEmpty { return nil }
        return try parseDatabase(digits)
    }

    private static func parseDatabase(_ text: Substring) throws -> Int {
        guard text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text) else {
            throw invalid("invalid database index (expected a non-negative integer)")
        }
        return value
    }

    private static func parseQuery(_ query: Substring) throws -> Int? {
        var database: Int?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0]
            guard name == "db" else {
                // The name is not quoted: with an unencoded '?' in a password it would be part of it.
                throw invalid("unsupported query parameter (only db= is supported)")
            }
            guard parts.count == 2 else { throw invalid("db= needs a value") }
            database = try parseDatabase(parts[1])
        }
        return database
    }

    /// Decodes `%XX` escapes; nil for a malformed escape or bytes that are not UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
