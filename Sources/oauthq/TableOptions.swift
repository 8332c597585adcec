import OAuthMaintenance

/// The swapped-model table names from the environment (`OAUTH2_PROVIDER_APPLICATION_MODEL`, …,
/// `AUTH_USER_MODEL`), for every command and the worker.
enum TableOptions {
    /// The tables named by the environment, or DOT's own.
    static func tables() throws -> DOTTables {
        var values: [String: String] = [:]
        for key in DOTTables.Key.allCases {
            values[key.rawValue] = Environment.value(key.rawValue)
        }
        do {
            return try DOTTables(settings: values)
        } catch {
            throw CommandFailure(exitCode: 1, "ImproperlyConfigured: \(error.description)")
        }
    }
}
