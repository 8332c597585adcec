internal import Foundation
import PythonCompat

/// DOT 3.4.1's `AllowedURIValidator(schemes, name="redirect uri", allow_path=True, allow_query=True,
/// allow_hostname_wildcard=ALLOW_URI_WILDCARDS)`, which `Application.clean()` runs on every
/// whitespace-separated redirect URI, including the Django `URLValidator` it ends with.
///
/// Each failing URI yields exactly one message, DOT's text, e.g.
/// `redirect uri URI validation error. fragment not allowed: https://a.example/cb#frag`.
struct RedirectURIValidator: Sendable {
    /// Lower-cased allowed schemes (`ALLOWED_REDIRECT_URI_SCHEMES`).
    let schemes: Set<String>
    /// `ALLOW_URI_WILDCARDS`.
    let allowHostnameWildcard: Bool
    let name = "redirect uri"

    /// Django's `MAX_URL_LENGTH`.
    static let maxURLLength = 2048
    /// `URIValidator.schemes_requiring_authority`.
    static let schemesRequiringAuthority: Set<String> = ["http", "https", "ws", "wss", "ftp"]

    init(schemes: [String], allowHostnameWildcard: Bool) {
        self.schemes = Set(schemes.map { $0.lowercased() })
        self.allowHostnameWildcard = allowHostnameWildcard
    }

    /// The error message for `value`, or nil when DOT accepts it.
    func message(for value: String) -> String? {
        func failure(_ cause: String) -> String {
            "\(name) URI validation error. \(cause): \(value)"
        }
        let parts: PythonURLSplit
        do {
            parts = try PythonURLSplit(value)
        } catch {
            return failure(error.message)
        }
        if !schemes.contains(parts.scheme) {
            return "\(name) URI Validation error. invalid_scheme: \(value)"
        }
        // allow_query=True: the "query string not allowed" branch never fires.
        if value.unicodeScalars.contains("#") {
            return failure("fragment not allowed")
        }
        // allow_path=True: the "path not allowed" branch never fires.
        var netloc = parts.netloc
        if netloc.isEmpty {
            if Self.schemesRequiringAuthority.contains(parts.scheme) {
                return failure("missing host")
            }
            if !Self.matches(Self.authoritylessRegex, value) {
                return failure("invalid URI")
            }
            return nil
        }
        if allowHostnameWildcard && netloc.contains("*") {
            if netloc.filter({ $0 == "*" }).count > 1 {
                return failure("only one wildcard is allowed in the hostname")
            }
            if !netloc.hasPrefix("*") {
                return failure("wildcards must be at the beginning of the hostname")
            }
            if PythonString.split(netloc, separator: ".", maxSplits: Int.max).count < 3 {
                return failure("wildcards cannot be in the top level or second level domain")
            }
            netloc = String(netloc.unicodeScalars.dropFirst(netloc.hasPrefix("*.") ? 2 : 1))
            if netloc.hasPrefix("--") {
                netloc = String(netloc.unicodeScalars.dropFirst(2))
            } else if netloc.hasPrefix("-") {
                netloc = String(netloc.unicodeScalars.dropFirst(1))
            }
        }
        var reassembled = "\(parts.scheme)://\(netloc)\(parts.path)"
        if !parts.query.isEmpty { reassembled += "?\(parts.query)" }
        if !parts.fragment.isEmpty { reassembled += "#\(parts.fragment)" }
        if !urlValidatorAccepts(reassembled) {
            return failure("['Enter a valid URL.']")
        }
        return nil
    }

    /// Django's `URLValidator.__call__` with DOT's `URIValidator.regex`.
    private func urlValidatorAccepts(_ value: String) -> Bool {
        guard PythonString.length(value) <= Self.maxURLLength else { return false }
        guard !value.unicodeScalars.contains(where: { $0 == "\t" || $0 == "\r" || $0 == "\n" }) else { return false }
        let scheme = value.components(separatedBy: "://")[0].lowercased()
        guard schemes.contains(scheme) else { return false }
        guard let split = try? PythonURLSplit(value) else { return false }
        guard Self.matches(Self.uriRegex, value) else { return false }
        if let bracketed = Self.bracketedHost(inNetloc: split.netloc) {
            guard PythonString.length(bracketed) <= 39, PythonIPAddress.isIPv6(bracketed) else { return false }
        }
        guard let hostname = split.hostname, PythonString.length(hostname) <= 253 else { return false }
        return true
    }

    /// Group 1 of `re.search(r"^\[(.+)\](?::[0-9]{1,5})?$", netloc)`: greedy, so the last `]` that
    /// leaves a valid optional port suffix.
    static func bracketedHost(inNetloc netloc: String) -> String? {
        let scalars = Array(netloc.unicodeScalars)
        guard scalars.first == "[", !scalars.contains("\n") else { return nil }
        var index = scalars.count - 1
        while index >= 2 {
            if scalars[index] == "]" {
                let suffix = scalars[(index + 1)...]
                let isPort = suffix.isEmpty
                    || (suffix.first == ":" && (2...6).contains(suffix.count)
                        && suffix.dropFirst().allSatisfy { $0.isASCII && $0.properties.numericType == .decimal })
                if isPort {
                    var view = String.UnicodeScalarView()
                    view.append(contentsOf: scalars[1..<index])
                    return String(view)
                }
            }
            index -= 1
        }
        return nil
    }

    // MARK: - Regular expressions (DOT/Django sources, translated to ICU: Python's \Z is ICU's \z)

    private static let ul = "\\u00a1-\\uffff"
    private static let hostnamePattern = "[a-z\(ul)0-9](?:[a-z\(ul)0-9-]{0,61}[a-z\(ul)0-9])?"
    private static let domainPattern = "(?:\\.(?!-)[a-z\(ul)0-9-]{1,63}(?<!-))*"
    private static let tldPattern = "\\.(?!-)(?:[a-z\(ul)-]{2,63}|xn--[a-z0-9]{1,59})(?<!-)\\.?"
    private static let ipv4Pattern = "(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)"
        + "(?:\\.(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)){3}"
    private static let ipv6Pattern = "\\[[0-9a-f:.]+\\]"
    private static let dotlessDomainPattern = "(?!-)[A-Z\\d-]{1,63}(?<!-)"
    private static let djangoHostPattern = "(" + hostnamePattern + domainPattern + tldPattern + "|localhost)"
    private static let hostPattern = "(?:" + djangoHostPattern + "|" + ipv4Pattern + "|" + ipv6Pattern + "|"
        + dotlessDomainPattern + ")"

    /// `URIValidator.regex` (no end anchor: `search` only needs a matching prefix).
    private static let uriRegex = compile(
        "^(?:[a-z][a-z0-9\\.\\-\\+]*)://" + hostPattern + "(?::\\d{2,5})?" + "(?:[/?#][^\\s]*)?")
    /// `URIValidator.authorityless_regex`.
    private static let authoritylessRegex = compile("^[a-z][a-z0-9\\.\\-\\+]*:/(?!/)[^\\s]*\\z")

    private static func compile(_ pattern: String) -> NSRegularExpression {
        do {
            return try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
        } catch {
            preconditionFailure("invalid built-in pattern: \(pattern)")
        }
    }

    private static func matches(_ regex: NSRegularExpression, _ value: String) -> Bool {
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        return regex.firstMatch(in: value, options: [.anchored], range: range) != nil
    }
}
