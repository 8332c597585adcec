import CeleryProtocol
import CeleryRedis
import Logging
import OAuthMaintenance
import Postgres

/// The worker's view of schema drift: the last ``SchemaDriftReport`` (taken at start and on every new
/// database connection), which tasks it refuses, and a log line when that changes — once, not per task.
actor SchemaGate {
    private let tables: DOTTables
    private let logger: Logger?
    private let notice: WorkerNotice?
    private var report: SchemaDriftReport?

    /// - Parameter notice: where the refused tasks are shown (`oauthq status`), when given.
    init(tables: DOTTables, logger: Logger?, notice: WorkerNotice? = nil) {
        self.tables = tables
        self.logger = logger
        self.notice = notice
    }

    /// Checks the schema on a fresh connection and logs what changed.
    func check(on connection: PostgresConnection) async throws {
        let fresh = try await DOTSchema.drift(on: connection, tables: tables)
        guard fresh != report else { return }
        let previous = report
        report = fresh
        notice?.set(fresh.statusNotice)
        guard let logger else { return }
        if fresh.blocking.isEmpty {
            if let previous, !previous.blocking.isEmpty {
                logger.notice("schema check: no blocking difference from DOT 3.4.1 any more; every task runs again")
            }
        } else {
            for difference in fresh.blocking {
                logger.error("schema check: \(difference.description); the worker refuses these tasks until the schema is fixed")
            }
        }
        for difference in fresh.harmless where previous == nil {
            logger.info("schema check: \(difference.description)")
        }
    }

    /// Throws the task's FAILURE when a blocking difference stops it.
    func admit(_ task: String) throws(JobError) {
        guard let reason = report?.refusal(task: task) else { return }
        throw JobError.failure(type: "SchemaDriftError", module: "oauthq", messages: [.string(reason)])
    }
}
