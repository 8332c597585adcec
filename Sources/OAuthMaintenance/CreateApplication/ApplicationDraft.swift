/// A request with DOT's defaults applied: the client id and secret it will use, generated where not
/// given (step 1 of `createapplication`). Validate it with ``CreateApplicationValidator``.
public struct ApplicationDraft: Sendable {
    /// The request as given.
    public let request: CreateApplicationRequest
    /// The given client id, or a new 40-character one.
    public let clientID: String
    /// The given plaintext secret, or a new one; hashed only when the row is made.
    let plaintextSecret: String
    /// True when the secret was generated, so it is printed once on success.
    public let clientSecretWasGenerated: Bool

    /// Applies DOT's defaults, drawing from the system CSPRNG.
    /// - Parameters:
    ///   - request: the job's arguments.
    ///   - settings: used for `CLIENT_SECRET_GENERATOR_LENGTH`.
    public init(request: CreateApplicationRequest, settings: CreateApplicationSettings = CreateApplicationSettings()) {
        var rng = SystemRandomNumberGenerator()
        self.init(request: request, settings: settings, using: &rng)
    }

    /// Applies DOT's defaults, drawing from `generator`.
    public init(request: CreateApplicationRequest, settings: CreateApplicationSettings, using generator: inout some RandomNumberGenerator) {
        let credentials = ClientCredentialGenerator(clientSecretLength: settings.clientSecretLength)
        self.request = request
        clientID = request.clientID.isEmpty ? credentials.clientID(using: &generator) : request.clientID
        clientSecretWasGenerated = request.clientSecret.isEmpty
        plaintextSecret = clientSecretWasGenerated ? credentials.clientSecret(using: &generator) : request.clientSecret
    }
}

extension ApplicationDraft: CustomStringConvertible {
    /// Never includes the secret.
    public var description: String {
        "ApplicationDraft(clientID: \(clientID), clientSecretWasGenerated: \(clientSecretWasGenerated), request: \(request))"
    }
}
