internal import CLibPQ
import Foundation

/// Where and how to connect: a `postgres://` / `postgresql://` URL or a libpq `key=value` conninfo string,
/// parsed and validated up front (by libpq's own `PQconninfoParse`), plus a connect timeout.
///
/// `application_name` defaults to `oauthq` and `client_encoding` is always UTF8. `description` never shows the
/// password.
///
/// Related libpq documentation: <https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING>
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// The connection parameters as libpq keywords, in order (`host`, `port`, `dbname`, `user`, `password`, …).
    private(set) var parameters: [(keyword: String, value: String)]

    /// The connect timeout. A `connect_timeout` given in the URL or conninfo wins over the initializer's
    /// argument. libpq counts whole seconds: the value is rounded up.
    public var connectTimeout: Duration

    /// Parses a URL or conninfo string.
    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/dbname?sslmode=…`, `postgresql://…`, or
    ///     `host=… port=… dbname=… user=… password=…`.
    ///   - connectTimeout: how long connecting may take, unless the string sets `connect_timeout`.
    /// - Throws: ``PostgresError`` with code `.invalidConfiguration`; its message never contains the password.
    public init(url: String, connectTimeout: Duration = .seconds(10)) throws {
        let trimmed = url.trimmingWhitespace
        guard !trimmed.isEmpty else {
            throw PostgresError(.invalidConfiguration, message: "empty PostgreSQL URL or conninfo string")
        }
        if let schemeEnd = trimmed.range(of: "://") {
            let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "postgres" || scheme == "postgresql" else {
                throw PostgresError(
                    .invalidConfiguration,
                    message: "unsupported URL scheme; expected postgres:// or postgresql://"
                )
            }
        }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(trimmed, &errorMessage) else {
            var message = "invalid PostgreSQL URL or conninfo string"
            if let errorMessage {
                let libpqMessage = PostgresError.oneLine(String(cString: errorMessage))
                PQfreemem(errorMessage)
                message += ": " + Self.redactingSecrets(of: trimmed, in: libpqMessage)
            }
            throw PostgresError(.invalidConfiguration, message: message)
        }
        defer { PQconninfoFree(options) }

        var parameters: [(keyword: String, value: String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                parameters.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        self.parameters = parameters
        self.connectTimeout = connectTimeout

        if let port = self["port"] {
            // libpq checks ports only when connecting; a bad one is a configuration error, reported now.
            let valid = port.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { part in
                part.isEmpty || (part.allSatisfy(\.isASCII) && Int(part).map { (1...65535).contains($0) } == true)
            }
            guard valid else {
                throw PostgresError(.invalidConfiguration, message: "invalid port in PostgreSQL URL or conninfo string")
            }
        }
        if let timeout = self["connect_timeout"] {
            guard let seconds = Int(timeout), seconds >= 0 else {
                throw PostgresError(.invalidConfiguration, message: "invalid connect_timeout in PostgreSQL URL or conninfo string")
            }
            self.connectTimeout = .seconds(seconds)
        }
        if self["application_name"] == nil {
            self.parameters.append(("application_name", "oauthq"))
        }
    }

    /// The value of a libpq connection keyword, if set (`"host"`, `"port"`, `"dbname"`, `"sslmode"`, …).
    public subscript(keyword: String) -> String? {
        get {
            parameters.last(where: { $0.keyword == keyword })?.value
        }
        set {
            parameters.removeAll(where: { $0.keyword == keyword })
            if let newValue {
                parameters.append((keyword, newValue))
            }
        }
    }

    /// The host(s), if given (`host` or `hostaddr`).
    public var host: String? { self["host"] ?? self["hostaddr"] }
    /// The port(s), as given.
    public var port: String? { self["port"] }
    /// The user name, if given.
    public var user: String? { self["user"] }
    /// The database name; set it to connect to another database on the same server.
    public var database: String? {
        get { self["dbname"] }
        set { self["dbname"] = newValue }
    }

    /// `key=value` pairs without secrets, e.g. `host=127.0.0.1 port=5440 dbname=oauthq user=postgres …`.
    public var description: String {
        parameters.map { parameter in
            Self.secretKeywords.contains(parameter.keyword) ? "\(parameter.keyword)=***" : "\(parameter.keyword)=\(parameter.value)"
        }.joined(separator: " ")
    }

    /// The keywords and values handed to `PQconnectdbParams`: everything given, plus a UTF8 client
    /// encoding and the connect timeout.
    var connectionParameters: [(keyword: String, value: String)] {
        var result = parameters.filter { $0.keyword != "client_encoding" && $0.keyword != "connect_timeout" }
        result.append(("client_encoding", "UTF8"))
        let (seconds, attoseconds) = connectTimeout.components
        let wholeSeconds = max(1, seconds + (attoseconds > 0 ? 1 : 0))
        result.append(("connect_timeout", String(wholeSeconds)))
        return result
    }

    private static let secretKeywords: Set<String> = ["password", "sslpassword"]

    /// libpq's parse errors can quote the input, password included (`invalid percent-encoded token: "…"`).
    /// Replaces the password (raw and percent-decoded) of a URL, or the `password=` value of a conninfo string.
    static func redactingSecrets(of input: String, in message: String) -> String {
        var secrets: [String] = []
        if let schemeEnd = input.range(of: "://") {
            let rest = input[schemeEnd.upperBound...]
            let beforeQuery = rest.prefix(while: { $0 != "?" })
            if let at = beforeQuery.lastIndex(of: "@") {
                let userInfo = beforeQuery[..<at]
                secrets.append(String(userInfo))
                if let colon = userInfo.firstIndex(of: ":") {
                    let password = String(userInfo[userInfo.index(after: colon)...])
                    secrets.append(password)
                    if let decoded = password.removingPercentEncoding { secrets.append(decoded) }
                }
            }
        }
        for keyword in secretKeywords {
            var searchStart = input.startIndex
            while let found = input.range(of: keyword, range: searchStart..<input.endIndex) {
                searchStart = found.upperBound
                var index = found.upperBound
                while index < input.endIndex, input[index] == " " || input[index] == "=" { index = input.index(after: index) }
                let rest = input[index...]
                if rest.first == "'" {
                    // A quoted value runs to the next unescaped quote and may contain spaces.
                    var value = ""
                    var escaped = false
                    for character in rest.dropFirst() {
                        if escaped { escaped = false } else if character == "\\" { escaped = true; continue } else if character == "'" { break }
                        value.append(character)
                    }
                    if !value.isEmpty { secrets.append(value) }
                } else {
                    let value = rest.prefix(while: { !$0.isWhitespace })
                    if !value.isEmpty { secrets.append(String(value)) }
                }
            }
        }
        var result = message
        for secret in secrets.filter({ $0.count >= 1 }).sorted(by: { $0.count > $1.count }) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return result
    }
}

extension String {
    var trimmingWhitespace: String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
