public import Foundation

/// One `oauth2_provider_application` row to INSERT, with every NOT NULL column filled (the table has
/// no database defaults). `id` is left to the identity column (`RETURNING id`).
///
/// A unique violation on `oauth2_provider_application_client_id_key` at INSERT time means a concurrent
/// run took the client id after validation; report it as
/// `client_id: ['Application with this Client ID already exists.']`.
public struct NewApplicationRow: Sendable, Hashable {
    public var clientID: String
    /// NULL when no user was given.
    public var userID: Int32?
    public var redirectURIs: String
    public var postLogoutRedirectURIs: String
    public var clientType: String
    public var authorizationGrantType: String
    /// The stored form: a Django hash, a value that already looked hashed, or plaintext when hashing is off.
    public var clientSecret: String
    public var hashClientSecret: Bool
    public var name: String
    public var skipAuthorization: Bool
    public var created: Date
    public var updated: Date
    public var algorithm: String
    /// Always `''`: the command cannot set it.
    public var allowedOrigins: String
    /// Always `manual` for createapplication.
    public var registrationSource: String
    /// Always NULL for createapplication.
    public var cimdExpiresAt: Date?

    /// The column names in the order of DOT's INSERT, matching ``parameters``.
    public static let columns = [
        "client_id", "user_id", "redirect_uris", "post_logout_redirect_uris", "client_type",
        "authorization_grant_type", "client_secret", "hash_client_secret", "name", "skip_authorization",
        "created", "updated", "algorithm", "allowed_origins", "registration_source", "cimd_expires_at",
    ]
}

extension NewApplicationRow: CustomStringConvertible {
    /// Everything but `client_secret` (possibly plaintext).
    public var description: String {
        "NewApplicationRow(clientID: \(clientID), userID: \(userID.map(String.init) ?? "nil"), clientType: \(clientType), "
            + "authorizationGrantType: \(authorizationGrantType), hashClientSecret: \(hashClientSecret), name: \(name), "
            + "algorithm: \(algorithm), clientSecret: <redacted>)"
    }
}
