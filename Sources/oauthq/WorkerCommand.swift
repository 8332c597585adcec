import ArgumentParser
import Foundation
import CeleryProtocol
import CeleryRedis
import Logging
import MaintenanceTasks
import OAuthMaintenance
import Observability
import Redis
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `oauthq worker`: consume Celery tasks from Redis and run them (see ``RedisWorker`` and ``RedisBroker``).
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run Celery 5.7 tasks (cleartokens, createapplication, ping) from Redis, wire-compatible with Python's send_task.",
        discussion: """
            Reads kombu's Redis lists (JSON messages, priorities 0-9 with 0 served first), writes results \
            to Celery's Redis result backend (celery-task-meta-<id>, SET with result_expires plus PUBLISH). \
            Fetching is reliable: a message moves atomically into a processing list of this process and \
            leaves it only when its result is written. A worker whose heartbeat expires has its messages \
            returned to their queues by any live worker within ~6 s. SIGTERM/SIGINT: warm shutdown (stop \
            fetching, let running tasks finish for --shutdown-timeout, return the rest); a second signal \
            returns running tasks at once. Exit 0 after a shutdown. cleartokens settings come from the \
            environment with DOT's names and may be overridden per task by kwargs; createapplication \
            settings come from the environment.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions
    @OptionGroup var metricsOptions: MetricsOptions

    @Option(name: .customLong("result-backend"), help: "Redis URL of the result backend (default: $RESULT_BACKEND, else the broker).")
    var resultBackendFlag: String?

    @Option(name: [.customShort("Q"), .customLong("queues")], help: "Comma-separated queues to consume, in order.")
    var queues = "celery"

    @Option(name: [.customShort("c"), .customLong("concurrency")], help: "Slots: tasks run at once (default: the number of CPUs).")
    var concurrency: Int?

    @Option(name: [.customShort("n"), .customLong("hostname")], help: "The node name (%h: host name; default oauthq@%h).")
    var hostname = "oauthq@%h"

    @Option(name: .customLong("task-alias"), help: "ALIAS=TASK: accept another task name (repeatable), e.g. tutorial.tasks.clear_tokens=cleartokens.")
    var taskAliases: [String] = []

    @Option(name: .customLong("key-prefix"), help: "Prefix of oauthq's own Redis keys.")
    var keyPrefix = "oauthq"

    @Option(name: .customLong("result-expires"), help: "Seconds results are kept (0: forever).")
    var resultExpires = 86_400

    @Option(name: .customLong("shutdown-timeout"), help: "Seconds a warm shutdown waits for running tasks.")
    var shutdownTimeout: Double = 30

    @Option(name: .customLong("max-retries"), help: "Retries of a task failing on a transient error (lost connection, serialization failure, deadlock).")
    var maxRetries = 3

    @Option(name: .customLong("retry-backoff"), help: "Seconds: the first retry's backoff ceiling, doubled per retry, with full jitter.")
    var retryBackoff: Double = 1

    @Option(name: .customLong("retry-backoff-max"), help: "Seconds: the largest backoff ceiling.")
    var retryBackoffMax: Double = 600

    @Option(name: .customLong("prefetch"), help: "Messages a slot takes at once (into its processing list, never only memory); the unstarted rest goes back as soon as a task blocks.")
    var prefetch = 16

    @Option(name: .customLong("time-limit"), help: "Hard time limit in seconds for tasks whose message sets none (default: none).")
    var timeLimit: Double?

    @Option(name: .customLong("soft-time-limit"), help: "Soft time limit in seconds for tasks whose message sets none (default: none).")
    var softTimeLimit: Double?

    @Option(name: .customLong("max-message-bytes"), help: "Messages larger than this many bytes are dead-lettered without being decoded.")
    var maxMessageBytes = MessageLimits().maximumMessageBytes

    @Option(name: .customLong("max-worker-lost"), help: "Dead-letter a message (WorkerLost) once this many workers died while running it: a poison pill (0: never).")
    var maxWorkerLost = 3

    @Option(name: .customLong("dead-letter-max"), help: "Dead letters kept; the oldest beyond this are dropped (counted in oauthq_dead_letters_dropped_total; 0: no limit).")
    var deadLetterMax = 10_000

    @Option(name: .customLong("dead-letter-max-age"), help: "Seconds a dead letter is kept (0: no limit).")
    var deadLetterMaxAge = 7 * 86_400

    @Option(name: .customLong("createapplication-result-expires"), help: "Seconds a createapplication SUCCESS result (which holds the generated client secret) is kept: read it once, then forget it.")
    var createApplicationResultExpires = 600

    @Flag(name: .customLong("no-setting-overrides"), help: "Ignore DOT settings in task kwargs (cleartokens); use only the worker's environment.")
    var noSettingOverrides = false

    @Flag(name: [.customShort("E"), .customLong("task-events")], help: "Send Celery task events (for Flower and celery events); the enable_events control command also turns them on.")
    var taskEvents = false

    @Option(name: .customLong("revoke-ttl"), help: "Seconds a revoke received by this worker lasts in the shared revoked set (1 to 2592000).")
    var revokeTTL: Double = 86_400

    @Flag(name: .customLong("debug-tasks"), help: "Also register oauthq.sleep(seconds=S) (0-600 s; logs its start) and oauthq.crash (aborts the worker process): tasks for chaos and load tests. Off by default.")
    var debugTasks = false

    @Option(name: [.customShort("l"), .customLong("loglevel")], help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        if let concurrency, !(1...WorkerHashBounds.maximumConcurrency).contains(concurrency) {
            throw ValidationError("--concurrency must be between 1 and \(WorkerHashBounds.maximumConcurrency)")
        }
        if !(1024...(1 << 30)).contains(maxMessageBytes) { throw ValidationError("--max-message-bytes must be between 1024 and 1073741824") }
        if !(0...100_000_000).contains(deadLetterMax) { throw ValidationError("--dead-letter-max must be between 0 and 100000000") }
        if !(0...(100 * 365 * 86_400)).contains(deadLetterMaxAge) { throw ValidationError("--dead-letter-max-age must be between 0 and 100 years") }
        if !(1...(365 * 86_400)).contains(createApplicationResultExpires) {
            throw ValidationError("--createapplication-result-expires must be between 1 and 31536000 seconds")
        }
        if !(0...1000).contains(maxWorkerLost) { throw ValidationError("--max-worker-lost must be between 0 and 1000") }
        for (flag, value) in [("--time-limit", timeLimit), ("--soft-time-limit", softTimeLimit)] {
            if let value, !(value > 0 && value <= MessageLimits().maximumTimeLimitSeconds) {
                throw ValidationError("\(flag) must be a number of seconds above 0 and at most \(Int(MessageLimits().maximumTimeLimitSeconds))")
            }
        }
        if resultExpires < 0 { throw ValidationError("--result-expires must not be negative") }
        if !(0...86_400).contains(shutdownTimeout) { throw ValidationError("--shutdown-timeout must be between 0 and 86400 seconds") }
        if prefetch < 1 { throw ValidationError("--prefetch must be at least 1") }
        if maxRetries < 0 { throw ValidationError("--max-retries must not be negative") }
        if !(0...86_400).contains(retryBackoff) || !(0...86_400).contains(retryBackoffMax) {
            throw ValidationError("--retry-backoff values must be between 0 and 86400 seconds")
        }
        if maxRetries > 10_000 { throw ValidationError("--max-retries must be at most 10000") }
        if prefetch > 10_000 { throw ValidationError("--prefetch must be at most 10000") }
        if resultExpires > 100 * 365 * 86_400 { throw ValidationError("--result-expires must be at most 100 years") }
        if Logger.Level(rawValue: logLevel.lowercased()) == nil { throw ValidationError("unknown --loglevel \(logLevel)") }
        _ = try aliases()
        if queueList.isEmpty { throw ValidationError("-Q needs at least one queue name") }
    }

    var queueList: [String] {
        queues.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func aliases() throws -> [String: String] {
        var result: [String: String] = [:]
        for alias in taskAliases {
            let parts = alias.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--task-alias expects ALIAS=TASK, e.g. tutorial.tasks.clear_tokens=cleartokens")
            }
            result[parts[0]] = parts[1]
        }
        return result
    }

    func run() async throws {
        try await reportingFailures {
            let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
            try logging.bootstrap(level: level)
            let logger = Logger(label: "oauthq.worker")
            let json = try logging.format() == .json
            do {
                try await serve(logger: logger)
            } catch let error where json && !(error is ExitCode) {
                // In JSON mode the last word is a JSON line too.
                logger.critical("\((error as? CommandFailure)?.description ?? String(describing: error))")
                throw ExitCode((error as? CommandFailure)?.exitCode ?? 1)
            }
        }
    }

    /// The worker itself, once logging is set up.
    private func serve(logger: Logger) async throws {
        // Before any metric handle exists (swift-metrics binds handles to the factory they were made with).
        let metricsServer = try metricsOptions.start(logger: logger)
        defer { metricsServer?.stop() }

        let brokerURL = connection.redisURL()
        let backendURL = resultBackendFlag ?? Environment.value("RESULT_BACKEND") ?? brokerURL
        // The command timeout must exceed the BLMOVE timeout (0.1 s); 10 s also bounds a hung server.
        let broker = try connection.redisConfiguration(url: brokerURL, commandTimeout: .seconds(10))
        let backend = try connection.redisConfiguration(url: backendURL, commandTimeout: .seconds(10))

        let slots = concurrency ?? min(ProcessInfo.processInfo.activeProcessorCount, WorkerHashBounds.maximumConcurrency)
        let databaseURL = connection.databaseURLFlag ?? Environment.value("DATABASE_URL")
        if databaseURL == nil {
            logger.warning("no --database-url or DATABASE_URL: cleartokens and createapplication will fail")
        }
        let metrics = WorkerMetrics(knownTasks: WorkerTasks.taskNames + (debugTasks ? [DebugTasks.sleepTaskName, DebugTasks.crashTaskName] : []))
        let notice = WorkerNotice()
        let tasks = try WorkerTasks(
            concurrency: slots, databaseURL: databaseURL, environment: ProcessInfo.processInfo.environment,
            metrics: metrics, logger: logger,
            stateWriter: TaskStateWriter(backend: backend, resultExpires: resultExpires, hostname: Self.nodeName(hostname)),
            settingOverrides: !noSettingOverrides, notice: notice
        )
        if databaseURL != nil { await tasks.checkSchemaAtStart(logger: logger) }

        var configuration = RedisWorker.Configuration(broker: broker, backend: backend == broker ? nil : backend)
        configuration.notice = notice
        configuration.keyPrefix = keyPrefix
        configuration.queues = queueList
        configuration.concurrency = slots
        configuration.name = Self.nodeName(hostname)
        configuration.resultExpires = resultExpires
        configuration.shutdownTimeout = MessageLimits.duration(seconds: shutdownTimeout)
        configuration.retryPolicy = RetryPolicy(
            maxRetries: maxRetries, base: MessageLimits.duration(seconds: retryBackoff),
            maxDelay: MessageLimits.duration(seconds: retryBackoffMax), jitter: .full
        )
        configuration.limits = MessageLimits(maximumMessageBytes: maxMessageBytes)
        configuration.maximumWorkerLosses = maxWorkerLost
        configuration.deadLetterMaximumCount = deadLetterMax
        configuration.deadLetterMaximumAge = deadLetterMaxAge > 0 ? .seconds(deadLetterMaxAge) : nil
        configuration.successResultExpires = [CreateApplicationJob.jobName: createApplicationResultExpires]
        configuration.aliases = try aliases()
        configuration.fetchBatch = prefetch
        configuration.defaultTimeLimit = CeleryMessage.TimeLimit(hard: timeLimit, soft: softTimeLimit)

        if metricsServer != nil { configuration.queueDepthInterval = .seconds(2) }
        configuration.taskLogMetadata = try logging.format() == .json
        configuration.taskEvents = taskEvents
        configuration.revokeTTL = try RevokeCommand.ttl(seconds: revokeTTL, flag: "--revoke-ttl")

        var handlers = tasks.handlers
        if debugTasks {
            handlers.merge(DebugTasks.handlers(logger: logger)) { first, _ in first }
            logger.info("debug tasks enabled: \(DebugTasks.sleepTaskName), \(DebugTasks.crashTaskName)")
        }
        let worker = RedisWorker(configuration: configuration, handlers: handlers, logger: logger, metrics: metrics)
        metricsServer?.setHealthCheck { worker.health.status() }
        // The first SIGTERM/SIGINT is a warm shutdown, a second one aborts it; the metrics endpoint stops last. Their
        // default action (exit) is off from here: the worker receives them through dispatch sources.
        for signalNumber in [SIGTERM, SIGINT] { signal(signalNumber, SIG_IGN) }
        try await worker.run(gracefulShutdownSignals: [.sigterm, .sigint], alongside: metricsServer.map { [MetricsService(server: $0)] } ?? [])
    }

    /// The metrics endpoint as a service of the worker's group: it serves until the group shuts down.
    struct MetricsService: Service {
        let server: MetricsHTTPServer

        func run() async {
            try? await gracefulShutdown()
            server.stop()
        }
    }

    /// `%h` → the host name, as Celery's `-n`.
    static func nodeName(_ pattern: String) -> String {
        var host = ProcessInfo.processInfo.hostName
        if host.isEmpty { host = "localhost" }
        return pattern.replacingOccurrences(of: "%h", with: host)
    }
}
