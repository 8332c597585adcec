public import Postgres

/// ``ApplicationStore`` on DOT's tables (`auth_user`, `oauth2_provider_application`, or a project's
/// swapped user and application models) in the connection's current schema. Every value is a bound
/// parameter; table names are quoted identifiers.
public struct PostgresApplicationStore: ApplicationStore {
    /// The connection every statement runs on.
    public let connection: PostgresConnection
    /// The user and application tables.
    public let tables: DOTTables

    /// - Parameter connection: an open connection to DOT's database.
    public init(connection: PostgresConnection, tables: DOTTables = .standard) {
        self.connection = connection
        self.tables = tables
    }

    /// The application model's verbose name (for Django's unique-check message).
    public var applicationVerboseName: String { tables.applicationVerboseName }

    /// Django's unique constraint on `client_id` of this application table (`<table>_client_id_key`).
    var clientIDConstraint: String { tables.application + "_client_id_key" }

    /// `SELECT 1 FROM auth_user WHERE id = $1 LIMIT 1`.
    public func userExists(id: Int32) async throws -> Bool {
        try await !connection.query("SELECT 1 FROM \(identifier: tables.user) WHERE id = \(id) LIMIT 1").rows.isEmpty
    }

    /// `SELECT 1 FROM oauth2_provider_application WHERE client_id = $1 LIMIT 1` (case-sensitive).
    public func clientIDExists(_ clientID: String) async throws -> Bool {
        try await !connection.query(
            "SELECT 1 FROM \(identifier: tables.application) WHERE client_id = \(clientID) LIMIT 1"
        ).rows.isEmpty
    }

    /// DOT's INSERT (docs/dot-compatibility.md#createapplication): every column but `id`, in DOT's order, inside
    /// `BEGIN … COMMIT`.
    ///
    /// The row must be complete before this is called: hashing the secret (PBKDF2) never happens while
    /// the transaction is open. The `user_id` foreign key is `DEFERRABLE INITIALLY DEFERRED`, so a user
    /// deleted concurrently is only reported by COMMIT; both that and a unique violation on `client_id`
    /// come back as outcomes, not errors.
    /// - Throws: ``PostgresError`` for any other failure (the transaction is rolled back).
    public func insert(_ row: NewApplicationRow) async throws -> ApplicationInsertOutcome {
        let query: PostgresQuery = """
            INSERT INTO \(identifier: tables.application) (client_id, user_id, redirect_uris, post_logout_redirect_uris, \
            client_type, authorization_grant_type, client_secret, hash_client_secret, name, skip_authorization, \
            created, updated, algorithm, allowed_origins, registration_source, cimd_expires_at) \
            VALUES (\(row.clientID), \(row.userID), \(row.redirectURIs), \(row.postLogoutRedirectURIs), \
            \(row.clientType), \(row.authorizationGrantType), \(row.clientSecret), \(row.hashClientSecret), \
            \(row.name), \(row.skipAuthorization), \(row.created), \(row.updated), \(row.algorithm), \
            \(row.allowedOrigins), \(row.registrationSource), \(row.cimdExpiresAt)) \
            RETURNING id
            """
        do {
            let id = try await connection.transaction { connection in
                let rows = try connection.query(query).rows
                guard let first = rows.first else {
                    throw PostgresError(.unsupported, message: "INSERT … RETURNING id returned no row")
                }
                return try first.decode(Int64.self, column: 0)
            }
            return .inserted(id: id)
        } catch let error as PostgresError where error.sqlState == .uniqueViolation && error.constraint == clientIDConstraint {
            return .clientIDTaken
        } catch let error as PostgresError where error.sqlState == .foreignKeyViolation && row.userID != nil {
            // The table's only foreign key is user_id.
            return .userMissing
        }
    }
}
