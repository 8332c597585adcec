/// The two database questions `full_clean()` asks while validating a new application.
///
/// The validator calls each at most once, only where DOT would query: ``userExists(id:)`` when `--user`
/// parsed as an integer within PostgreSQL `integer` range (`SELECT 1 FROM auth_user WHERE id = $1 LIMIT 1`),
/// and ``clientIDExists(_:)`` when the client id passed its field checks
/// (`SELECT 1 FROM oauth2_provider_application WHERE client_id = $1 LIMIT 1`, case-sensitive).
public protocol ApplicationLookup: Sendable {
    /// Whether `auth_user` has a row with this id.
    func userExists(id: Int32) async throws -> Bool
    /// Whether an application already has exactly this `client_id`.
    func clientIDExists(_ clientID: String) async throws -> Bool
    /// The application model's verbose name, which Django's unique-check message starts with.
    var applicationVerboseName: String { get }
}

extension ApplicationLookup {
    /// DOT's own model: `Application`.
    public var applicationVerboseName: String { "Application" }
}

/// An ``ApplicationLookup`` over fixed sets, for tests and dry runs.
public struct StaticApplicationLookup: ApplicationLookup {
    /// Existing `auth_user.id` values.
    public var userIDs: Set<Int32>
    /// Existing `client_id` values.
    public var clientIDs: Set<String>

    /// - Parameters:
    ///   - userIDs: ids that exist in `auth_user`.
    ///   - clientIDs: client ids already taken.
    public init(userIDs: Set<Int32> = [], clientIDs: Set<String> = []) {
        self.userIDs = userIDs
        self.clientIDs = clientIDs
    }

    public func userExists(id: Int32) async throws -> Bool { userIDs.contains(id) }
    public func clientIDExists(_ clientID: String) async throws -> Bool { clientIDs.contains(clientID) }
}
