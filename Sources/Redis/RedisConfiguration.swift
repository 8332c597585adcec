/// Where and how to connect to Redis.
///
/// Usually built from a URL (the forms kombu and Celery accept):
/// - `redis://[[user]:password@]host[:port][/db]` — TCP; the port defaults to 6379, the database to 0.
///   IPv6 hosts go in brackets (`redis://[::1]:6379`). `?db=N` is accepted when the path names none.
/// - `rediss://…` — the same over TLS, with the query parameters `ssl_cert_reqs=required|optional|none`
///   (also `CERT_REQUIRED`, …), `ssl_ca_certs=PATH`, `ssl_certfile=PATH`, `ssl_keyfile=PATH` and
///   `ssl_check_hostname=true|false`; see ``RedisTLSOptions``.
/// - `unix://[[user]:password@]/path/to/socket[?db=N]` — a Unix domain socket.
/// - `sentinel://[[user]:password@]host[:port][;sentinel://host2[:port]…][/db]` — Redis Sentinel; the
///   port defaults to 26379. The master's name is ``sentinelMaster`` (not part of kombu's URL); the
///   credentials are the master's, as in kombu. Any `ssl_*` parameter turns on TLS to the sentinels and
///   to the master alike.
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
        /// Redis Sentinel: the master named ``RedisConfiguration/sentinelMaster`` is looked up through
        /// these sentinels, in order, on every connect.
        case sentinel(nodes: [SentinelNode])
    }

    /// One sentinel's address.
    public struct SentinelNode: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = 26379) {
            self.host = host
            self.port = port
        }
    }

    /// How to reach the server.
    public var endpoint: Endpoint
    /// The database selected after connecting (`SELECT`), 0 by default.
    public var database: Int
    /// The ACL user for `AUTH user password`; nil sends `AUTH password` (the `default` user).
    public var username: String?
    /// The password; nil skips `AUTH`.
    public var password: String?
    /// The limit for establishing the TCP or Unix connection, and for the TLS handshake.
    public var connectTimeout: Duration
    /// The socket read/write timeout for every command. It must exceed the timeout of any blocking
    /// command sent on the connection (`BLMOVE … 5` needs more than 5 s): when it expires the
    /// connection is dead and the command throws ``RedisError/Code/timeout``.
    public var commandTimeout: Duration
    /// TLS (`rediss://`, or a `sentinel://` URL with `ssl_*` parameters); nil for plain TCP or Unix.
    public var tls: RedisTLSOptions?
    /// The master's name for a ``Endpoint/sentinel(nodes:)`` endpoint (kombu's `master_name`).
    public var sentinelMaster: String?
    /// The ACL user the sentinels require, if any (kombu's `sentinel_kwargs`).
    public var sentinelUsername: String?
    /// The password the sentinels require, if any (kombu's `sentinel_kwargs`).
    public var sentinelPassword: String?

    /// Creates a configuration from its parts.
    /// - Throws: ``RedisError`` (``RedisError/Code/invalidConfiguration``) for a negative database, a
    ///   port outside 1...65535 or a timeout that is not positive.
    public init(
        endpoint: Endpoint,
        database: Int = 0,
        username: String? = nil,
        password: String? = nil,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(30),
        tls: RedisTLSOptions? = nil
    ) throws {
        switch endpoint {
        case .tcp(let host, let port):
            guard !host.isEmpty else { throw RedisError(.invalidConfiguration, "empty host") }
            guard (1...65_535).contains(port) else { throw RedisError(.invalidConfiguration, "port out of range") }
        case .unix(let path):
            if path.isEmpty { throw RedisError(.invalidConfiguration, "empty Unix socket path") }
            if tls != nil { throw RedisError(.invalidConfiguration, "TLS over a Unix socket is not supported") }
        case .sentinel(let nodes):
            guard !nodes.isEmpty else { throw RedisError(.invalidConfiguration, "no sentinel given") }
            for node in nodes {
                guard !node.host.isEmpty else { throw RedisError(.invalidConfiguration, "empty sentinel host") }
                guard (1...65_535).contains(node.port) else {
                    throw RedisError(.invalidConfiguration, "sentinel port out of range")
                }
            }
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
        self.tls = tls
    }

    /// Parses a `redis://`, `rediss://`, `unix://` or `sentinel://` URL (see the type's documentation).
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
            commandTimeout: commandTimeout,
            tls: parsed.tls
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
        let unverified = tls?.certificateRequirement == RedisTLSOptions.CertificateRequirement.none ? "?ssl_cert_reqs=none" : ""
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "\(tls == nil ? "redis" : "rediss")://\(credentials)\(shownHost):\(port)/\(database)\(unverified)"
        case .unix(let path):
            return "unix://\(credentials)\(path)?db=\(database)"
        case .sentinel(let nodes):
            let hosts = nodes.enumerated().map { index, node in
                let shownHost = node.host.contains(":") ? "[\(node.host)]" : node.host
                return "sentinel://\(index == 0 ? credentials : "")\(shownHost):\(node.port)"
            }
            let tlsNote = tls == nil ? "" : (unverified.isEmpty ? "?ssl_cert_reqs=required" : unverified)
            let master = sentinelMaster.map { " (master \($0))" } ?? ""
            return hosts.joined(separator: ";") + "/\(database)\(tlsNote)\(master)"
        }
    }

    public var debugDescription: String { description }

    /// A mirror without the passwords, so `dump(configuration)` does not print them.
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
                "tls": tls as Any,
                "sentinelMaster": sentinelMaster as Any,
                "sentinelPassword": sentinelPassword == nil ? "nil" : "***",
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
        var tls: RedisTLSOptions?
    }

    /// The query parameters of one URL.
    private struct Query {
        var database: Int?
        var certificateRequirement: RedisTLSOptions.CertificateRequirement?
        var caCertificatesPath: String?
        var certificatePath: String?
        var keyPath: String?
        var checkHostname: Bool?

        var hasTLSParameter: Bool {
            certificateRequirement != nil || caCertificatesPath != nil || certificatePath != nil || keyPath != nil
                || checkHostname != nil
        }

        var tlsOptions: RedisTLSOptions {
            RedisTLSOptions(
                certificateRequirement: certificateRequirement ?? .required,
                caCertificatesPath: caCertificatesPath,
                certificatePath: certificatePath,
                keyPath: keyPath,
                checkHostname: checkHostname ?? true
            )
        }
    }

    /// Longer URLs are refused before any other work.
    static let maxLength = 8_192
    /// The most sentinels one URL may name.
    static let maxSentinels = 16

    static func parse(_ url: String) throws -> Parsed {
        guard url.utf8.count <= maxLength else { throw invalid("too long") }
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw invalid("missing scheme (expected redis://, rediss://, unix:// or sentinel://)")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "redis", "rediss":
            let (rest, query) = try splitQuery(url[schemeEnd.upperBound...])
            var parsed = try parseTCP(rest, defaultPort: 6379, query: query)
            if scheme == "rediss" {
                parsed.tls = query.tlsOptions
            } else if query.hasTLSParameter {
                throw invalid("ssl_* parameters need a rediss:// URL")
            }
            return parsed
        case "unix":
            let (rest, query) = try splitQuery(url[schemeEnd.upperBound...])
            if query.hasTLSParameter { throw invalid("ssl_* parameters are not supported for unix://") }
            return try parseUnix(rest, query: query)
        case "sentinel":
            return try parseSentinels(url)
        default:
            let safe = scheme.count <= 16 && scheme.allSatisfy { $0.isLetter || $0.isNumber || "+-.".contains($0) }
            let expected = "expected redis://, rediss://, unix:// or sentinel://"
            throw invalid(safe ? "unsupported scheme '\(scheme)' (\(expected))" : "unsupported scheme (\(expected))")
        }
    }

    private static func invalid(_ message: String) -> RedisError {
        RedisError(.invalidURL, "invalid Redis URL: \(message)")
    }

    /// Splits off and parses the query (`?…`); refuses a fragment.
    private static func splitQuery(_ text: Substring) throws -> (Substring, Query) {
        var rest = text
        var query = Query()
        if let questionMark = rest.firstIndex(of: "?") {
            query = try parseQuery(rest[rest.index(after: questionMark)...])
            rest = rest[..<questionMark]
        }
        if rest.contains("#") {
            throw invalid("fragments (#) are not allowed")
        }
        return (rest, query)
    }

    /// `[[user]:password@]host[:port][/db]`, the part after `redis://`, `rediss://` or `sentinel://`.
    private static func parseTCP(_ rest: Substring, defaultPort: Int, query: Query) throws -> Parsed {
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        var parsed = Parsed(endpoint: .tcp(host: "127.0.0.1", port: defaultPort))
        if let at = authority.lastIndex(of: "@") {
            (parsed.username, parsed.password) = try parseUserInfo(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        parsed.endpoint = try parseHostPort(authority, defaultPort: defaultPort)
        let pathDatabase = try parsePathDatabase(path)
        if let pathDatabase, let queryDatabase = query.database, pathDatabase != queryDatabase {
            throw invalid("the database is given twice, differently (path and ?db=)")
        }
        parsed.database = pathDatabase ?? query.database ?? 0
        return parsed
    }

    private static func parseUnix(_ text: Substring, query: Query) throws -> Parsed {
        var rest = text
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
        parsed.database = query.database ?? 0
        return parsed
    }

    /// kombu's form: `sentinel://…;sentinel://…`. Credentials, database and parameters may sit on any
    /// part; given on two parts, they must agree.
    private static func parseSentinels(_ url: String) throws -> Parsed {
        let parts = url.split(separator: ";", omittingEmptySubsequences: true)
        guard parts.count <= maxSentinels else { throw invalid("more than \(maxSentinels) sentinels") }
        var nodes: [RedisConfiguration.SentinelNode] = []
        var merged: Parsed?
        var tls: RedisTLSOptions?
        for part in parts {
            guard let schemeEnd = part.firstRange(of: "://"), part[..<schemeEnd.lowerBound].lowercased() == "sentinel" else {
                throw invalid("every part of a sentinel URL must start with sentinel:// (separated by ';')")
            }
            let (rest, query) = try splitQuery(part[schemeEnd.upperBound...])
            let parsed = try parseTCP(rest, defaultPort: 26379, query: query)
            guard case .tcp(let host, let port) = parsed.endpoint else { throw invalid("invalid sentinel address") }
            nodes.append(RedisConfiguration.SentinelNode(host: host, port: port))
            if query.hasTLSParameter {
                let options = query.tlsOptions
                if let tls, tls != options { throw invalid("the sentinels' ssl_* parameters differ") }
                tls = options
            }
            let hasPath = rest.contains("/") && rest[rest.firstIndex(of: "/")!...].count > 1
            if var current = merged {
                if parsed.password != nil {
                    if current.password != nil, current.password != parsed.password || current.username != parsed.username {
                        throw invalid("the sentinel URLs give different credentials")
                    }
                    current.password = parsed.password
                    current.username = parsed.username
                }
                if hasPath || query.database != nil {
                    if current.database != 0, current.database != parsed.database {
                        throw invalid("the sentinel URLs give different databases")
                    }
                    current.database = parsed.database
                }
                merged = current
            } else {
                merged = parsed
            }
        }
        guard var result = merged, !nodes.isEmpty else { throw invalid("no sentinel given") }
        result.endpoint = .sentinel(nodes: nodes)
        result.tls = tls
        return result
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

    private static func parseHostPort(_ authority: Substring, defaultPort: Int) throws -> RedisConfiguration.Endpoint {
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
        guard host.count <= 255, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:%".contains($0)) }) else {
            throw invalid("invalid host")
        }
        var port = defaultPort
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

    /// The parameters oauthq understands; the names are kombu's and redis-py's.
    static let supportedParameters = "db, ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_check_hostname"

    private static func parseQuery(_ text: Substring) throws -> Query {
        var query = Query()
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0]
            let known = ["db", "ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname"]
            guard known.contains(String(name)) else {
                // The name is not quoted: with an unencoded '?' in a password it would be part of it.
                throw invalid("unsupported query parameter (supported: \(supportedParameters))")
            }
            guard parts.count == 2, !parts[1].isEmpty else { throw invalid("\(name)= needs a value") }
            let raw = parts[1]
            switch name {
            case "db":
                query.database = try parseDatabase(raw)
            case "ssl_cert_reqs":
                switch raw.lowercased() {
                case "required", "cert_required": query.certificateRequirement = .required
                case "optional", "cert_optional": query.certificateRequirement = .optional
                case "none", "cert_none": query.certificateRequirement = RedisTLSOptions.CertificateRequirement.none
                default: throw invalid("ssl_cert_reqs must be required, optional or none (or CERT_REQUIRED, …)")
                }
            case "ssl_check_hostname":
                switch raw.lowercased() {
                case "true", "1", "yes", "y", "t", "on": query.checkHostname = true
                case "false", "0", "no", "n", "f", "off": query.checkHostname = false
                default: throw invalid("ssl_check_hostname must be true or false")
                }
            default:
                guard raw.count <= 4_096, let path = percentDecode(raw), !path.isEmpty, !path.contains("\0") else {
                    throw invalid("\(name) needs a file path")
                }
                switch name {
                case "ssl_ca_certs": query.caCertificatesPath = path
                case "ssl_certfile": query.certificatePath = path
                default: query.keyPath = path
                }
            }
        }
        return query
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
