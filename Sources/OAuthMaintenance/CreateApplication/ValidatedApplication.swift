public import Foundation

/// An application that passed DOT's validation: turn it into the row to insert and, after the INSERT,
/// print ``successLines``.
public struct ValidatedApplication: Sendable {
    /// The validated draft.
    public let draft: ApplicationDraft
    /// The parsed `--user`, nil when not given.
    public let userID: Int32?
    let settings: CreateApplicationSettings

    /// The row DOT's `save()` inserts: every column but `id`, the secret hashed by `ClientSecretField.pre_save`
    /// rules (with a fresh salt: about 0.2–0.6 s of PBKDF2 at 1,000,000 iterations; run it off latency-critical
    /// threads).
    /// - Parameter now: the clock, read twice like Django (`created`, then `updated`).
    /// - Throws: ``PasswordHashError`` when the configured iteration count is out of range.
    public func makeRow(now: () -> Date = Date.init) throws(PasswordHashError) -> NewApplicationRow {
        let request = draft.request
        let stored = try settings.passwordHashers.storedClientSecret(
            draft.plaintextSecret, hashClientSecret: request.hashClientSecret,
            hasher: DjangoPasswordHasher(iterations: settings.hashIterations))
        let created = now()
        let updated = now()
        return NewApplicationRow(
            clientID: draft.clientID,
            userID: userID,
            redirectURIs: request.redirectURIs,
            postLogoutRedirectURIs: request.postLogoutRedirectURIs,
            clientType: request.clientType,
            authorizationGrantType: request.authorizationGrantType,
            clientSecret: stored,
            hashClientSecret: request.hashClientSecret,
            name: request.name,
            skipAuthorization: request.skipAuthorization,
            created: created,
            updated: updated,
            algorithm: request.algorithm,
            allowedOrigins: "",
            registrationSource: "manual",
            cimdExpiresAt: nil)
    }

    /// What DOT prints on success: `New application <name or client_id> created successfully.`, then
    /// `client_secret: <plaintext>` only when the secret was generated. The second line is the one place
    /// a secret is ever shown; send it to the job's requester only, never to a log.
    public var successLines: [String] {
        let display = draft.request.name.isEmpty ? draft.clientID : draft.request.name
        var lines = ["New application \(display) created successfully."]
        if draft.clientSecretWasGenerated {
            lines.append("client_secret: \(draft.plaintextSecret)")
        }
        return lines
    }
}

extension ValidatedApplication: CustomStringConvertible {
    /// Never includes the secret.
    public var description: String {
        "ValidatedApplication(userID: \(userID.map(String.init) ?? "nil"), draft: \(draft))"
    }
}
