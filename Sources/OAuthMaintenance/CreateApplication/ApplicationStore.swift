/// Where ``CreateApplicationJob`` checks and writes applications: the two `full_clean()` lookups plus
/// the INSERT. ``PostgresApplicationStore`` is the real one; tests wrap it to force races.
public protocol ApplicationStore: ApplicationLookup {
    /// Inserts `row` (one transaction) and returns its new id, or reports a conflict that a concurrent
    /// writer created after validation.
    /// - Throws: database errors other than those conflicts.
    func insert(_ row: NewApplicationRow) async throws -> ApplicationInsertOutcome
}

/// What ``ApplicationStore/insert(_:)`` did.
public enum ApplicationInsertOutcome: Sendable, Hashable {
    /// The row is committed with this `id`.
    case inserted(id: Int64)
    /// `oauth2_provider_application_client_id_key` refused the row: another writer took the client id
    /// between validation and insert. Nothing was written.
    case clientIDTaken
    /// The `user_id` foreign key refused the row at COMMIT: the user was deleted between validation and
    /// insert. Nothing was written.
    case userMissing
}
