internal import Foundation

/// Python 3.11.7's `urllib.parse.urlsplit` (the version the reference venv runs; 3.11.4 added the
/// bracketed-host check), plus the `hostname` property. Errors are the `ValueError` texts.
struct PythonURLSplit: Sendable, Hashable {
    var scheme: String
    var netloc: String
    var path: String
    var query: String
    var fragment: String

    /// The `ValueError` message `urlsplit` raised.
    struct ParseError: Error, Hashable {
        let message: String
    }

    private static let schemeCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.".unicodeScalars)

    /// `urlsplit(url)`.
    /// - Throws: ``ParseError`` with Python's `ValueError` text.
    init(_ url: String) throws(ParseError) {
        let all = Array(url.unicodeScalars)
        // url.lstrip(_WHATWG_C0_CONTROL_OR_SPACE), then remove every \t \r \n (one pass each: linear).
        var rest = Array(all[(all.firstIndex { $0.value > 0x20 } ?? all.endIndex)...])
        rest.removeAll { $0 == "\t" || $0 == "\r" || $0 == "\n" }

        var scheme: [Unicode.Scalar] = []
        if let colon = rest.firstIndex(of: ":"), colon > 0, rest[0].isASCII, rest[0].properties.isAlphabetic,
            rest[..<colon].allSatisfy({ Self.schemeCharacters.contains($0) })
        {
            scheme = rest[..<colon].map { Unicode.Scalar(UInt8(ascii: $0).lowercasedASCII) }
            rest = Array(rest[(colon + 1)...])
        }
        var netloc: [Unicode.Scalar] = []
        if rest.count >= 2, rest[0] == "/", rest[1] == "/" {
            let end = rest[2...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.count
            netloc = Array(rest[2..<end])
            rest = Array(rest[end...])
            let open = netloc.contains("["), close = netloc.contains("]")
            if open != close { throw ParseError(message: "Invalid IPv6 URL") }
            if open, close {
                let afterOpen = netloc[(netloc.firstIndex(of: "[")! + 1)...]
                let host = afterOpen.prefix { $0 != "]" }
                try Self.checkBracketedHost(String(String.UnicodeScalarView(host)))
            }
        }
        var fragment: [Unicode.Scalar] = []
        if let hash = rest.firstIndex(of: "#") {
            fragment = Array(rest[(hash + 1)...])
            rest = Array(rest[..<hash])
        }
        var query: [Unicode.Scalar] = []
        if let mark = rest.firstIndex(of: "?") {
            query = Array(rest[(mark + 1)...])
            rest = Array(rest[..<mark])
        }
        let netlocString = Self.string(netloc)
        try Self.checkNetloc(netlocString)
        self.scheme = Self.string(scheme)
        self.netloc = netlocString
        self.path = Self.string(rest)
        self.query = Self.string(query)
        self.fragment = Self.string(fragment)
    }

    /// The `hostname` property: the host part of `netloc` lower-cased (except an IPv6 zone), nil when empty.
    var hostname: String? {
        var hostinfo = Array(netloc.unicodeScalars)
        if let at = hostinfo.lastIndex(of: "@") { hostinfo = Array(hostinfo[(at + 1)...]) }
        var host: [Unicode.Scalar]
        if let open = hostinfo.firstIndex(of: "[") {
            host = Array(hostinfo[(open + 1)...].prefix { $0 != "]" })
        } else {
            host = Array(hostinfo.prefix { $0 != ":" })
        }
        guard !host.isEmpty else { return nil }
        var zone: [Unicode.Scalar] = []
        if let percent = host.firstIndex(of: "%") {
            zone = Array(host[percent...])
            host = Array(host[..<percent])
        }
        return Self.string(host).lowercased() + Self.string(zone)
    }

    private static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// `_check_bracketed_host`.
    private static func checkBracketedHost(_ host: String) throws(ParseError) {
        if host.unicodeScalars.first == "v" {
            // re.match(r"\Av[a-fA-F0-9]+\..+\Z", hostname)
            let scalars = Array(host.unicodeScalars.dropFirst())
            let hexCount = scalars.prefix { $0.isASCII && $0.properties.isASCIIHexDigit }.count
            let valid = hexCount > 0 && scalars.count > hexCount + 1 && scalars[hexCount] == "."
                && !scalars[(hexCount + 1)...].contains("\n")
            if !valid { throw ParseError(message: "IPvFuture address is invalid") }
            return
        }
        switch PythonIPAddress.parse(host) {
        case .v4: throw ParseError(message: "An IPv4 address cannot be in brackets")
        case .v6: return
        case nil: throw ParseError(message: "\(PythonString.repr(host)) does not appear to be an IPv4 or IPv6 address")
        }
    }

    /// `_checknetloc`: refuses a non-ASCII netloc whose NFKC form gains `/ ? # @ :`.
    private static func checkNetloc(_ netloc: String) throws(ParseError) {
        guard !netloc.unicodeScalars.allSatisfy(\.isASCII) else { return }
        let stripped = string(netloc.unicodeScalars.filter { !"@:#?".unicodeScalars.contains($0) })
        let normalized = stripped.precomposedStringWithCompatibilityMapping
        if normalized.unicodeScalars.contains(where: { "/?#@:".unicodeScalars.contains($0) }) {
            throw ParseError(message: "netloc '\(netloc)' contains invalid characters under NFKC normalization")
        }
    }
}

extension UInt8 {
    fileprivate var lowercasedASCII: UInt8 {
        (0x41...0x5A).contains(self) ? self + 0x20 : self
    }
}
