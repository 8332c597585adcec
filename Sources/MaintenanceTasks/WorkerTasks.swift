import Foundation
import CeleryProtocol
public import CeleryRedis
public import Logging
import OAuthMaintenance
import Postgres

/// The worker's tasks — `ping`, `cleartokens`, `createapplication`, `clearcimdapplications` — as
/// ``JobHandler``s, with one lazily opened PostgreSQL connection per slot.
///
/// Build it once per worker (``init(concurrency:databaseURL:environment:metrics:logger:stateWriter:settingOverrides:notice:)``
/// reads DOT's settings from `environment` and fails at start on one that does not parse), then register
/// ``handlers``. Each handler binds the message's `args`/`kwargs` as Python would, runs the job on its slot's
/// connection, and throws a ``JobError`` saying what the worker should do with a failure (a PostgreSQL error is
/// mapped by ``JobError/init(postgres:)``).
public struct WorkerTasks: Sendable {
    /// Environment values for `cleartokens` (DOT's names); task kwargs override them.
    let clearTokensDefaults: [String: String]
    /// DOT's settings for `createapplication`, read from the environment at start.
    let createApplicationSettings: CreateApplicationSettings
    /// One database per slot.
    let databases: [WorkerDatabase]
    /// Where DOT's models live (swapped-model settings from the environment).
    let tables: DOTTables
    /// Schema drift found at start and on reconnect: which tasks are refused.
    let schema: SchemaGate
    /// Writes `STARTED` and rate-limited `PROGRESS` states of the maintenance tasks (nil: none).
    let stateWriter: TaskStateWriter?
    /// Where the maintenance tasks' 10-second progress lines go.
    let logger: Logger?
    /// Whether task kwargs may override DOT settings (within ``ClearTokensSettings/OverrideBounds``).
    let settingOverrides: Bool

    /// - Parameters:
    ///   - concurrency: the worker's slots (one database connection each, opened on first use).
    ///   - databaseURL: the PostgreSQL URL; nil: the database tasks fail with `ImproperlyConfigured`.
    ///   - environment: DOT's settings by their names (`CLEAR_EXPIRED_TOKENS_BATCH_SIZE`, swapped models, …).
    ///   - metrics: counts dropped connections.
    ///   - logger: progress lines and schema-check notices.
    ///   - stateWriter: writes `STARTED`/`PROGRESS` of the maintenance tasks.
    ///   - settingOverrides: whether task kwargs may override DOT settings.
    ///   - notice: where refused tasks are shown (`oauthq status`).
    /// - Throws: ``WorkerTasksConfigurationError`` for a setting that does not parse.
    public init(
        concurrency: Int, databaseURL: String?, environment: [String: String], metrics: WorkerMetrics? = nil,
        logger: Logger? = nil, stateWriter: TaskStateWriter? = nil, settingOverrides: Bool = true,
        notice: WorkerNotice? = nil
    ) throws(WorkerTasksConfigurationError) {
        self.logger = logger
        self.stateWriter = stateWriter
        self.settingOverrides = settingOverrides
        var defaults: [String: String] = [:]
        for key in ClearTokensSettings.Key.allCases {
            if let value = environment[key.rawValue], !value.isEmpty { defaults[key.rawValue] = value }
        }
        // Fail at start, not per task, on settings that do not parse.
        do {
            _ = try ClearTokensSettings(values: defaults)
        } catch {
            throw WorkerTasksConfigurationError(.clearTokensSettings, error.description)
        }
        clearTokensDefaults = defaults
        do {
            createApplicationSettings = try CreateApplicationSettings(environment: environment)
        } catch {
            throw WorkerTasksConfigurationError(.createApplicationSettings, error.description)
        }
        var tableSettings: [String: String] = [:]
        for key in DOTTables.Key.allCases {
            tableSettings[key.rawValue] = environment[key.rawValue]
        }
        do {
            tables = try DOTTables(settings: tableSettings)
        } catch {
            throw WorkerTasksConfigurationError(.swappedModels, error.description)
        }
        let schema = SchemaGate(tables: tables, logger: logger, notice: notice)
        self.schema = schema
        databases = (0..<min(max(1, concurrency), 4096)).map { _ in WorkerDatabase(url: databaseURL, metrics: metrics, schema: schema) }
    }

    /// The names of the tasks in ``handlers``.
    public static let taskNames = ["ping", ClearTokensJob.jobName, CreateApplicationJob.jobName, ClearCIMDApplicationsJob.jobName]

    /// The handlers by task name.
    public var handlers: [String: JobHandler] {
        [
            "ping": { invocation in try Self.ping(invocation) },
            ClearTokensJob.jobName: { invocation in try await self.clearTokens(invocation) },
            CreateApplicationJob.jobName: { invocation in try await self.createApplication(invocation) },
            ClearCIMDApplicationsJob.jobName: { invocation in try await self.clearCIMDApplications(invocation) },
        ]
    }

    /// Opens the first slot's connection, which checks the schema (and logs any drift) before the
    /// first task. An unreachable database is only a warning here: tasks retry it.
    public func checkSchemaAtStart(logger: Logger) async {
        guard let database = databases.first else { return }
        do {
            _ = try await database.connection()
        } catch {
            logger.warning("schema check at start skipped: \(error)")
        }
    }

    // MARK: - ping

    static func ping(_ invocation: JobInvocation) throws -> JSONValue {
        _ = try WorkerArguments(
            function: "ping", args: invocation.message.args, kwargs: invocation.message.kwargs, allowed: []
        )
        return "pong"
    }

    // MARK: - cleartokens

    /// kwargs: DOT's setting names (upper or lower case), plus `dry_run`. Unset ones come from the worker's
    /// environment; `null` means "not set" (DOT's default), overriding the environment.
    func clearTokens(_ invocation: JobInvocation) async throws -> JSONValue {
        let settingNames = Set(ClearTokensSettings.Key.allCases.map(\.rawValue))
        let arguments = try WorkerArguments(
            function: ClearTokensJob.jobName, args: invocation.message.args, kwargs: invocation.message.kwargs,
            allowed: settingNames.union(["dry_run", "jobs"]),
            normalizing: { key in settingNames.contains(key.uppercased()) ? key.uppercased() : key }
        )
        var values = clearTokensDefaults
        var overridden = Set<ClearTokensSettings.Key>()
        for name in settingNames where settingOverrides {
            guard let value = arguments.values[name] else { continue }
            if let key = ClearTokensSettings.Key(rawValue: name) { overridden.insert(key) }
            switch value {
            case .null: values[name] = ""
            case .string(let text): values[name] = text
            case .int(let number): values[name] = String(number)
            case .double(let number): values[name] = String(number)
            case .bool(let flag): values[name] = flag ? "true" : "false"
            case .array, .object:
                throw JobError.invalidArguments("cleartokens() argument \(WorkerArguments.repr(name)) must be a number, a string or a bool")
            }
        }
        let dryRun = try arguments.bool("dry_run", default: false)
        let jobs: Int
        switch arguments.values["jobs"] {
        case nil, .null?: jobs = 1
        case .int(let number)?: jobs = Int(clamping: min(max(number, 1), Int64(ClearTokensJob.maxJobs)))
        case let value?: throw JobError.invalidArguments("cleartokens() argument 'jobs' must be int, not \(value.pythonTypeName)")
        }
        let settings: ClearTokensSettings
        do {
            settings = try ClearTokensSettings(values: values)
        } catch {
            throw JobError.failure(type: "ImproperlyConfigured", module: "django.core.exceptions", messages: [.string(error.description)])
        }
        if let violation = settings.overrideViolation(overridden: overridden) {
            throw JobError(.invalidArguments, exception: .init(type: "ValueError", module: "builtins", messages: [.string(violation)]))
        }
        let database = try self.database(for: invocation)
        do {
            let connection = try await database.connection()
            try await schema.admit(ClearTokensJob.jobName)
            let summary = try await tracking(invocation) { report in
                try await ClearTokensJob(
                    settings: settings, tables: tables, jobs: jobs, connect: { try await database.extraConnection() }
                ).run(on: connection, dryRun: dryRun) { event in
                    if let update = event.maintenanceProgress { report(update) }
                }
            }
            return try Self.json(summary)
        } catch let error as ClearTokensError where error.code == .alreadyRunning {
            return try Self.alreadyRunning(invocation)
        } catch let error as PostgresError {
            throw await database.classify(error)
        }
    }

    /// A maintenance task that finds its single-flight lock held. A redelivered message is most likely this very
    /// task, still running on a worker that was paused past its heartbeat: it is never answered "skipped", but
    /// delivered again later (the running copy's result then ends it). A first delivery means another run (another
    /// task, on any worker) holds the lock: nothing to do, and nothing went wrong.
    static func alreadyRunning(_ invocation: JobInvocation) throws -> JSONValue {
        if invocation.message.isRedelivered {
            throw JobError.busy("\(invocation.taskName) is already running (advisory lock held); redelivered later")
        }
        return ["skipped": "already running"]
    }

    // MARK: - createapplication

    static let createApplicationParameters = [
        "client_type", "authorization_grant_type", "client_id", "user", "redirect_uris", "post_logout_redirect_uris",
        "client_secret", "hash_client_secret", "name", "skip_authorization", "algorithm",
    ]

    /// args: `[client_type, authorization_grant_type]` (or by name); kwargs: DOT's option names with
    /// underscores. Validation errors raise `ValueError({"field": ["message", …], …})`.
    func createApplication(_ invocation: JobInvocation) async throws -> JSONValue {
        let arguments = try WorkerArguments(
            function: CreateApplicationJob.jobName, args: invocation.message.args, kwargs: invocation.message.kwargs,
            positional: ["client_type", "authorization_grant_type"],
            required: ["client_type", "authorization_grant_type"],
            allowed: Set(Self.createApplicationParameters)
        )
        // A client id the sender left to us is derived from the task id: a second delivery of the same task
        // (its first worker paused past its heartbeat, or killed after COMMIT) then collides on the unique
        // client_id instead of creating a second application.
        let givenClientID = try arguments.string("client_id")
        let derivedClientID = givenClientID.isEmpty ? TaskClientID.derive(taskID: invocation.message.id) : nil
        let request = CreateApplicationRequest(
            clientType: try arguments.string("client_type"),
            authorizationGrantType: try arguments.string("authorization_grant_type"),
            clientID: derivedClientID ?? givenClientID,
            user: try arguments.string("user", acceptIntegers: true),
            redirectURIs: try arguments.string("redirect_uris", maximumBytes: WorkerArguments.maximumURIListBytes),
            postLogoutRedirectURIs: try arguments.string("post_logout_redirect_uris", maximumBytes: WorkerArguments.maximumURIListBytes),
            clientSecret: try arguments.string("client_secret"),
            hashClientSecret: try arguments.bool("hash_client_secret", default: true),
            name: try arguments.string("name"),
            skipAuthorization: try arguments.bool("skip_authorization", default: false),
            algorithm: try arguments.string("algorithm")
        )
        let database = try self.database(for: invocation)
        let result: CreateApplicationResult
        do {
            let connection = try await database.connection()
            try await schema.admit(CreateApplicationJob.jobName)
            result = try await CreateApplicationJob(settings: createApplicationSettings).run(request, on: connection, tables: tables)
        } catch let error as PostgresError {
            throw await database.classify(error)
        } catch let error as PasswordHashError {
            throw JobError.failure(type: "ImproperlyConfigured", module: "django.core.exceptions", messages: [.string(String(describing: error))])
        }
        switch result {
        case .created(let application):
            var object: JSONObject = [
                "id": .int(application.id), "client_id": .string(application.clientID), "name": .string(application.name),
            ]
            if let secret = application.clientSecret { object["client_secret"] = .string(secret) }
            return .object(object)
        case .invalid(let errors)
        where derivedClientID != nil && invocation.message.isRedelivered
            && errors.fields.contains(where: { $0.name == "client_id" && $0.messages.contains(CreateApplicationJob.duplicateClientIDMessage(tables.applicationVerboseName)) }):
            // An earlier delivery of this very task created the application. While it may still be about to store
            // its result (with the secret), come back later; after that, answer without the secret.
            if invocation.message.deferredCount < TaskClientID.maximumDeferrals {
                throw JobError.busy("an earlier delivery of this task created the application; waiting for its result")
            }
            return [
                "client_id": .string(derivedClientID ?? ""), "name": .string(request.name),
                "note": "created by an earlier delivery of this task; the client secret was only in that delivery's result",
            ]
        case .invalid(let errors):
            var fields = JSONObject()
            for field in errors.fields {
                fields[field.name] = .array(field.messages.map(JSONValue.string))
            }
            throw JobError.failure(type: "ValueError", messages: [.object(fields)])
        }
    }

    // MARK: - Helpers

    /// The invocation's slot's database. A slot beyond the ones this value was built for is a failure, not a
    /// trap (the worker never sends one; another caller might).
    func database(for invocation: JobInvocation) throws(JobError) -> WorkerDatabase {
        guard databases.indices.contains(invocation.slot) else {
            throw JobError.failure(
                type: "RuntimeError", messages: [.string("slot \(invocation.slot) has no database connection (slots: \(databases.count))")])
        }
        return databases[invocation.slot]
    }

    /// Runs a maintenance task with its progress going to the result backend (`STARTED`, then `PROGRESS`
    /// at most once a second) and to the log (a line every 10 s per running step).
    func tracking<T: Sendable>(
        _ invocation: JobInvocation, _ body: (@Sendable (MaintenanceProgress) -> Void) async throws -> T
    ) async throws -> T {
        let lines = logger.map { logger in
            ProgressReporter(isTerminal: false) { line in logger.info("\(PrintableText.escaped(invocation.taskName))[\(PrintableText.escaped(invocation.message.id))] \(line)") }
        }
        guard let stateWriter else {
            return try await body { update in lines?.update(update) }
        }
        return try await stateWriter.tracking(invocation) { sink in
            try await body { update in
                lines?.update(update)
                sink.report(Self.progressMeta(update))
            }
        }
    }

    /// The `PROGRESS` meta: `{"step", "deleted", "batches", "fraction"}`.
    static func progressMeta(_ update: MaintenanceProgress) -> JSONValue {
        [
            "step": .string(update.step), "deleted": .int(Int64(update.deleted)), "batches": .int(Int64(update.batches)),
            "fraction": .double(update.fraction),
        ]
    }

    static func json(_ value: some Encodable) throws -> JSONValue {
        let data = try JSONEncoder().encode(value)
        return try JSONValue.parse(Array(data)).get()
    }
}
