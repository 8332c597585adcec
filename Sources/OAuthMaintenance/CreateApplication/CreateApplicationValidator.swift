import PythonCompat

/// DOT 3.4.1's `Application.full_clean()` as `createapplication` runs it, with the two database checks
/// delegated to an ``ApplicationLookup``.
///
/// Order and texts follow Django: (a) field checks in model field order (`client_id`, `user`,
/// `client_type`, `authorization_grant_type`, `client_secret`, `name`, `algorithm`), each field stopping at
/// its first error; (b) `Application.clean()` (redirect URIs, then algorithm rules), merged into the same
/// fields; (c) the `client_id` uniqueness check unless `client_id` already failed.
public struct CreateApplicationValidator: Sendable {
    /// Model field names, as DOT prints them.
    public enum FieldName {
        public static let clientID = "client_id"
        public static let user = "user"
        public static let redirectURIs = "redirect_uris"
        public static let clientType = "client_type"
        public static let authorizationGrantType = "authorization_grant_type"
        public static let clientSecret = "client_secret"
        public static let hashClientSecret = "hash_client_secret"
        public static let name = "name"
        public static let algorithm = "algorithm"
    }

    /// `Application.CLIENT_TYPES`.
    public static let clientTypes = ["confidential", "public"]
    /// `Application.GRANT_TYPES`.
    public static let grantTypes = [
        "authorization-code", "urn:ietf:params:oauth:grant-type:device_code", "implicit", "password",
        "client-credentials", "openid-hybrid",
    ]
    /// `Application.ALGORITHM_TYPES`.
    public static let algorithms = ["", "RS256", "HS256"]
    /// Grants that need at least one redirect URI.
    static let grantsRequiringRedirectURIs: Set<String> = ["authorization-code", "implicit", "openid-hybrid"]
    /// Grants HS256 is refused for.
    static let grantsForbiddingHS256: Set<String> = ["implicit", "openid-hybrid"]

    /// The exact `hashed client secret` message (260 characters).
    public static let hs256HashedSecretMessage =
        "You cannot use HS256 with a hashed client secret. For HS256 the client "
        + "secret is the shared signing key and must be stored unhashed so the relying "
        + "party can verify the token; set hash_client_secret=False and store an "
        + "unhashed client_secret on this application."

    /// The settings the rules read.
    public var settings: CreateApplicationSettings

    /// - Parameter settings: DOT settings; defaults match a stock install.
    public init(settings: CreateApplicationSettings = CreateApplicationSettings()) {
        self.settings = settings
    }

    /// Validates `draft`, asking `lookup` at most once per question.
    /// - Returns: ``CreateApplicationValidation/valid(_:)`` with the parsed user id, or the errors DOT prints.
    /// - Throws: only what `lookup` throws.
    public func validate(_ draft: ApplicationDraft, lookup: some ApplicationLookup) async throws -> CreateApplicationValidation {
        let request = draft.request
        var errors = ApplicationValidationErrors()
        typealias Field = FieldName

        // (a) clean_fields(), in model field order.
        if let message = Self.maxLengthMessage(draft.clientID, limit: 255) {
            errors.append(message, to: Field.clientID)
        }
        var userID: Int32?
        if !request.user.isEmpty {
            if let parsed = PythonInteger(parsing: request.user) {
                // Out of `integer` range Django 5 returns an empty result without querying.
                var exists = false
                if let id = parsed.int32Value {
                    exists = try await lookup.userExists(id: id)
                    userID = id
                }
                if !exists {
                    errors.append("user instance with id \(parsed.canonicalDecimal) is not a valid choice.", to: Field.user)
                }
            } else {
                errors.append("“\(request.user)” value must be an integer.", to: Field.user)
            }
        }
        if let message = Self.choiceMessage(request.clientType, choices: Self.clientTypes, blankAllowed: false) {
            errors.append(message, to: Field.clientType)
        }
        if let message = Self.choiceMessage(request.authorizationGrantType, choices: Self.grantTypes, blankAllowed: false) {
            errors.append(message, to: Field.authorizationGrantType)
        }
        if let message = Self.maxLengthMessage(draft.plaintextSecret, limit: 255) {
            errors.append(message, to: Field.clientSecret)
        }
        if let message = Self.maxLengthMessage(request.name, limit: 255) {
            errors.append(message, to: Field.name)
        }
        if let message = Self.choiceMessage(request.algorithm, choices: Self.algorithms, blankAllowed: true) {
            errors.append(message, to: Field.algorithm)
        }
        let clientIDFailedFieldChecks = !errors[Field.clientID].isEmpty

        // (b) Application.clean().
        let uris = PythonString.splitOnWhitespace(request.redirectURIs)
        if !uris.isEmpty {
            let validator = RedirectURIValidator(
                schemes: settings.allowedRedirectURISchemes, allowHostnameWildcard: settings.allowURIWildcards)
            for uri in uris {
                if let message = validator.message(for: uri) {
                    errors.append(message, to: Field.redirectURIs)
                }
            }
        } else if Self.grantsRequiringRedirectURIs.contains(request.authorizationGrantType) {
            errors.append(
                "redirect_uris cannot be empty with grant_type \(request.authorizationGrantType)", to: Field.redirectURIs)
        }
        if request.algorithm == "RS256" && !settings.oidcRSAPrivateKeyConfigured {
            errors.append("You must set OIDC_RSA_PRIVATE_KEY to use RSA algorithm", to: Field.algorithm)
        }
        if request.algorithm == "HS256" {
            if Self.grantsForbiddingHS256.contains(request.authorizationGrantType) || request.clientType == "public" {
                errors.append("You cannot use HS256 with public grants or clients", to: Field.algorithm)
            }
            if draft.plaintextSecret.isEmpty {
                errors.append(
                    "You cannot use HS256 without a client secret; it is the HMAC signing key.", to: Field.clientSecret)
            } else if request.hashClientSecret || settings.passwordHashers.looksHashed(draft.plaintextSecret) {
                errors.append(
                    Self.hs256HashedSecretMessage,
                    to: request.hashClientSecret ? Field.hashClientSecret : Field.clientSecret)
            }
        }

        // (c) validate_unique(), skipped for a client_id that already failed.
        if !clientIDFailedFieldChecks, try await lookup.clientIDExists(draft.clientID) {
            errors.append(CreateApplicationJob.duplicateClientIDMessage(lookup.applicationVerboseName), to: Field.clientID)
        }

        if errors.isEmpty {
            return .valid(ValidatedApplication(draft: draft, userID: userID, settings: settings))
        }
        return .invalid(errors)
    }

    /// `MaxLengthValidator`, counting code points like Python's `len`.
    static func maxLengthMessage(_ value: String, limit: Int) -> String? {
        let length = PythonString.length(value)
        guard length > limit else { return nil }
        return "Ensure this value has at most \(limit) characters (it has \(length))."
    }

    /// `Field.validate` for a choices field: invalid choice (value as Python `repr`), then blank.
    static func choiceMessage(_ value: String, choices: [String], blankAllowed: Bool) -> String? {
        if value.isEmpty {
            return blankAllowed ? nil : "This field cannot be blank."
        }
        // Python compares code points; Swift's == would also equate canonically equivalent strings.
        if choices.contains(where: { Array($0.unicodeScalars) == Array(value.unicodeScalars) }) {
            return nil
        }
        return "Value \(PythonString.repr(value)) is not a valid choice."
    }
}

/// The outcome of ``CreateApplicationValidator/validate(_:lookup:)``.
public enum CreateApplicationValidation: Sendable {
    /// Nothing to report: make the row and insert it.
    case valid(ValidatedApplication)
    /// DOT would print these errors, write nothing and exit 0.
    case invalid(ApplicationValidationErrors)
}
