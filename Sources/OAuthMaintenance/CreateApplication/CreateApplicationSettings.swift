/// The `OAUTH2_PROVIDER` (and Django) settings `createapplication` depends on.
public struct CreateApplicationSettings: Sendable, Hashable {
    /// `ALLOWED_REDIRECT_URI_SCHEMES`; compared lower-cased.
    public var allowedRedirectURISchemes: [String]
    /// `ALLOW_URI_WILDCARDS`.
    public var allowURIWildcards: Bool
    /// Whether `OIDC_RSA_PRIVATE_KEY` is set (non-empty); `RS256` is refused without it.
    public var oidcRSAPrivateKeyConfigured: Bool
    /// `PASSWORD_HASHERS`, by algorithm name; decides which secrets "look hashed".
    public var passwordHashers: PasswordHasherRegistry
    /// `CLIENT_SECRET_GENERATOR_LENGTH`.
    public var clientSecretLength: Int
    /// The PBKDF2 iteration count for new secret hashes (Django 5.2: 1,000,000).
    public var hashIterations: Int

    /// DOT 3.4.1 defaults unless overridden.
    public init(
        allowedRedirectURISchemes: [String] = ["http", "https"],
        allowURIWildcards: Bool = false,
        oidcRSAPrivateKeyConfigured: Bool = false,
        passwordHashers: PasswordHasherRegistry = .djangoDefault,
        clientSecretLength: Int = ClientCredentialGenerator.defaultClientSecretLength,
        hashIterations: Int = DjangoPasswordHasher.defaultIterations
    ) {
        self.allowedRedirectURISchemes = allowedRedirectURISchemes
        self.allowURIWildcards = allowURIWildcards
        self.oidcRSAPrivateKeyConfigured = oidcRSAPrivateKeyConfigured
        self.passwordHashers = passwordHashers
        self.clientSecretLength = clientSecretLength
        self.hashIterations = hashIterations
    }
}
