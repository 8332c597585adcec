/// DOT's default generators for `client_id` and `client_secret` (`oauth2_provider.generators`).
public struct ClientCredentialGenerator: Sendable {
    /// DOT's client id length (`ClientIdGenerator`: 40).
    public static let clientIDLength = 40
    /// DOT's default `CLIENT_SECRET_GENERATOR_LENGTH` (128).
    public static let defaultClientSecretLength = 128

    /// The length of generated secrets (`CLIENT_SECRET_GENERATOR_LENGTH`).
    public var clientSecretLength: Int

    /// - Parameter clientSecretLength: `CLIENT_SECRET_GENERATOR_LENGTH`, 128 by default.
    public init(clientSecretLength: Int = ClientCredentialGenerator.defaultClientSecretLength) {
        self.clientSecretLength = clientSecretLength
    }

    /// A new 40-character client id from `[A-Za-z0-9]` (never contains `:`).
    public func clientID(using generator: inout some RandomNumberGenerator) -> String {
        AlphanumericGenerator().string(length: Self.clientIDLength, using: &generator)
    }

    /// A new client secret of ``clientSecretLength`` characters from `[A-Za-z0-9]`.
    public func clientSecret(using generator: inout some RandomNumberGenerator) -> String {
        AlphanumericGenerator().string(length: clientSecretLength, using: &generator)
    }
}
