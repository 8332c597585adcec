internal import Foundation

extension CreateApplicationSettings {
    /// The environment variables read by ``init(environment:)``: DOT's `OAUTH2_PROVIDER` names where DOT
    /// has one.
    public enum Key: String, CaseIterable, Sendable {
        /// A JSON list (`["https", "myapp"]`) or a comma- and/or space-separated list; default `http https`.
        case allowedRedirectURISchemes = "ALLOWED_REDIRECT_URI_SCHEMES"
        /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`); default false.
        case allowURIWildcards = "ALLOW_URI_WILDCARDS"
        /// Any non-empty value (the PEM itself, as in DOT) allows `RS256`; its content is not read.
        case oidcRSAPrivateKey = "OIDC_RSA_PRIVATE_KEY"
        /// A positive integer; default 128 (above 255 every generated secret fails validation, as in DOT).
        case clientSecretGeneratorLength = "CLIENT_SECRET_GENERATOR_LENGTH"
        /// PBKDF2 iterations for new secret hashes (Django has no setting for it); default 1,000,000.
        case pbkdf2Iterations = "OAUTHQ_PBKDF2_ITERATIONS"
    }

    /// A setting that does not parse. The message names the variable, never its value (it may be a key).
    public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// DOT's defaults, overridden by the environment variables in ``Key`` that are set and non-empty.
    /// - Parameter environment: usually `ProcessInfo.processInfo.environment`.
    /// - Throws: ``ConfigurationError`` for a value that does not parse.
    public init(environment: [String: String]) throws(ConfigurationError) {
        self.init()
        func given(_ key: Key) -> String? {
            guard let value = environment[key.rawValue], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return nil
            }
            return value
        }
        if let raw = given(.allowedRedirectURISchemes) {
            allowedRedirectURISchemes = try Self.schemeList(raw)
        }
        if let raw = given(.allowURIWildcards) {
            allowURIWildcards = try Self.boolean(raw, key: .allowURIWildcards)
        }
        oidcRSAPrivateKeyConfigured = given(.oidcRSAPrivateKey) != nil
        if let raw = given(.clientSecretGeneratorLength) {
            clientSecretLength = try Self.positiveInteger(raw, key: .clientSecretGeneratorLength, maximum: 100_000)
        }
        if let raw = given(.pbkdf2Iterations) {
            hashIterations = try Self.positiveInteger(raw, key: .pbkdf2Iterations, maximum: Int(UInt32.max))
        }
    }

    /// `["a", "b"]` as JSON, else split on commas and whitespace.
    static func schemeList(_ raw: String) throws(ConfigurationError) -> [String] {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            guard let list = try? JSONDecoder().decode([String].self, from: Data(trimmed.utf8)) else {
                throw ConfigurationError(
                    description: "\(Key.allowedRedirectURISchemes.rawValue) must be a JSON list of strings or a comma/space-separated list")
            }
            return list
        }
        return trimmed.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
    }

    static func boolean(_ raw: String, key: Key) throws(ConfigurationError) -> Bool {
        switch raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(description: "\(key.rawValue) must be true or false")
        }
    }

    static func positiveInteger(_ raw: String, key: Key, maximum: Int) throws(ConfigurationError) -> Int {
        guard let value = Int(raw.trimmingCharacters(in: .whitespacesAndNewlines)), (1...maximum).contains(value) else {
            throw ConfigurationError(description: "\(key.rawValue) must be an integer from 1 to \(maximum)")
        }
        return value
    }
}
