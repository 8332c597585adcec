public import Foundation
public import Postgres

/// `createapplication`: DOT 3.4.1's `manage.py createapplication` as a library call, for the CLI and
/// the worker.
///
/// Steps, as DOT: apply defaults (generate the client id and secret), run `full_clean()` (two lookups),
/// and on success hash the secret and INSERT the row. Unlike DOT the INSERT cannot crash on a concurrent
/// writer: a unique violation on `client_id` after validation is reported as DOT's duplicate-client-id
/// validation error, and a user deleted in between as DOT's invalid-user error; nothing is written.
///
/// PBKDF2 (0.2–0.6 s at 1,000,000 iterations) runs on a global dispatch queue, never on Swift's
/// cooperative pool and never while a transaction is open.
public struct CreateApplicationJob: Sendable {
    /// The task name on the queue.
    public static let jobName = "createapplication"

    /// DOT's settings for validation, generation and hashing.
    public let settings: CreateApplicationSettings

    /// - Parameter settings: see ``CreateApplicationSettings/init(environment:)``.
    public init(settings: CreateApplicationSettings = CreateApplicationSettings()) {
        self.settings = settings
    }

    /// Creates the application on `connection`'s database, in `tables` (DOT's own, or swapped models').
    /// - Throws: `PostgresError` from the database, ``PasswordHashError`` for an unusable iteration
    ///   count, `CancellationError` when the task is cancelled before the INSERT.
    public func run(
        _ request: CreateApplicationRequest, on connection: PostgresConnection, tables: DOTTables = .standard
    ) async throws -> CreateApplicationResult {
        try await run(request, store: PostgresApplicationStore(connection: connection, tables: tables))
    }

    /// Creates the application through `store`.
    /// - Parameters:
    ///   - request: the command's arguments.
    ///   - store: the lookups and the INSERT.
    ///   - now: the clock for `created` and `updated` (read twice, like Django).
    /// - Returns: the new application, or DOT's validation errors.
    /// - Throws: what `store` throws (other than the conflicts it reports), ``PasswordHashError``,
    ///   `CancellationError`.
    public func run(
        _ request: CreateApplicationRequest,
        store: some ApplicationStore,
        now: @escaping @Sendable () -> Date = Date.init
    ) async throws -> CreateApplicationResult {
        let draft = ApplicationDraft(request: request, settings: settings)
        let validated: ValidatedApplication
        switch try await CreateApplicationValidator(settings: settings).validate(draft, lookup: store) {
        case .invalid(let errors):
            return .invalid(errors)
        case .valid(let application):
            validated = application
        }
        let row = try await Self.makeRowOffPool(validated, now: now)
        try Task.checkCancellation()
        switch try await store.insert(row) {
        case .inserted(let id):
            return .created(
                CreatedApplication(
                    id: id, clientID: draft.clientID, name: request.name,
                    clientSecret: draft.clientSecretWasGenerated ? draft.plaintextSecret : nil))
        case .clientIDTaken:
            var errors = ApplicationValidationErrors()
            errors.append(Self.duplicateClientIDMessage(store.applicationVerboseName), to: CreateApplicationValidator.FieldName.clientID)
            return .invalid(errors)
        case .userMissing:
            var errors = ApplicationValidationErrors()
            let id = validated.userID.map(String.init) ?? request.user
            errors.append(Self.unknownUserMessage(id), to: CreateApplicationValidator.FieldName.user)
            return .invalid(errors)
        }
    }

    /// The validator's `validate_unique()` message, reused when the INSERT loses a race (`verboseName`: the
    /// application model's, "Application" for DOT's own).
    public static func duplicateClientIDMessage(_ verboseName: String = "Application") -> String {
        "\(verboseName) with this Client ID already exists."
    }

    /// The validator's message for a `--user` id with no row, reused when the user vanishes before COMMIT.
    static func unknownUserMessage(_ id: String) -> String {
        "user instance with id \(id) is not a valid choice."
    }

    /// `makeRow` (PBKDF2) on a global queue, so it does not hold a cooperative-pool thread.
    static func makeRowOffPool(
        _ application: ValidatedApplication, now: @escaping @Sendable () -> Date
    ) async throws -> NewApplicationRow {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<NewApplicationRow, any Error>) in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { () throws(PasswordHashError) -> NewApplicationRow in
                    try application.makeRow(now: now)
                }.mapError { $0 as any Error })
            }
        }
    }
}
