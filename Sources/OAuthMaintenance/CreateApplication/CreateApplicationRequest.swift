/// The arguments of `manage.py createapplication`, as a job carries them.
///
/// Strings follow DOT's option filtering: an empty string means "not given" (a generated client id or
/// secret, no user, `''` stored). Values are kept exactly as given, since validation reports them
/// verbatim (`client_type` `'foo'`, `user` `'alice'`).
public struct CreateApplicationRequest: Sendable, Hashable {
    /// Positional `client_type`: `confidential` or `public`.
    public var clientType: String
    /// Positional `authorization_grant_type`, e.g. `authorization-code`.
    public var authorizationGrantType: String
    /// `--client-id`; empty generates 40 random characters.
    public var clientID: String
    /// `--user`: the `auth_user` primary key as text (it may not parse; DOT reports that).
    public var user: String
    /// `--redirect-uris`: space-separated, stored verbatim.
    public var redirectURIs: String
    /// `--post-logout-redirect-uris`: stored verbatim, never validated.
    public var postLogoutRedirectURIs: String
    /// `--client-secret`; empty generates a secret (printed once).
    public var clientSecret: String
    /// False for `--no-hash-client-secret`.
    public var hashClientSecret: Bool
    /// `--name`.
    public var name: String
    /// `--skip-authorization`.
    public var skipAuthorization: Bool
    /// `--algorithm`: `''`, `RS256` or `HS256`.
    public var algorithm: String

    /// Creates a request; every option defaults to "not given".
    public init(
        clientType: String,
        authorizationGrantType: String,
        clientID: String = "",
        user: String = "",
        redirectURIs: String = "",
        postLogoutRedirectURIs: String = "",
        clientSecret: String = "",
        hashClientSecret: Bool = true,
        name: String = "",
        skipAuthorization: Bool = false,
        algorithm: String = ""
    ) {
        self.clientType = clientType
        self.authorizationGrantType = authorizationGrantType
        self.clientID = clientID
        self.user = user
        self.redirectURIs = redirectURIs
        self.postLogoutRedirectURIs = postLogoutRedirectURIs
        self.clientSecret = clientSecret
        self.hashClientSecret = hashClientSecret
        self.name = name
        self.skipAuthorization = skipAuthorization
        self.algorithm = algorithm
    }
}

extension CreateApplicationRequest: CustomStringConvertible {
    /// Everything but the client secret, which is shown only as given or not.
    public var description: String {
        "CreateApplicationRequest(clientType: \(clientType), authorizationGrantType: \(authorizationGrantType), "
            + "clientID: \(clientID), user: \(user), redirectURIs: \(redirectURIs), "
            + "clientSecret: \(clientSecret.isEmpty ? "<generate>" : "<redacted>"), hashClientSecret: \(hashClientSecret), "
            + "name: \(name), skipAuthorization: \(skipAuthorization), algorithm: \(algorithm))"
    }
}
