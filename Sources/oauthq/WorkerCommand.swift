import ArgumentParser
import Foundation
import JobQueue
import JobQueueRedis
import Logging
import Observability
import Redis

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

    @Flag(name: [.customShort("E"), .customLong("task-events")], help: "Send Celery task events (for Flower and celery events); the enable_events control command also turns them on.")
    var taskEvents = false

    @Option(name: .customLong("revoke-ttl"), help: "Seconds a revoke received by this worker lasts in the shared revoked set (1 to 2592000).")
    var revokeTTL: Double = 86_400

    @Flag(name: .customLong("debug-tasks"), help: "Also register oauthq.sleep(seconds=S) (0-60 s; logs its start): a task with a duration for chaos and load tests. Off by default.")
    var debugTasks = false

    @Option(name: [.customShort("l"), .customLong("loglevel")], help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if resultExpires < 0 { throw ValidationError("--result-expires must not be negative") }
        if shutdownTimeout < 0 || !shutdownTimeout.isFinite { throw ValidationError("--shutdown-timeout must be a non-negative number") }
        if prefetch < 1 { throw ValidationError("--prefetch must be at least 1") }
        if maxRetries < 0 { throw ValidationError("--max-retries must not be negative") }
        if !(retryBackoff >= 0) || !(retryBackoffMax >= 0) { throw ValidationError("--retry-backoff values must not be negative") }
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
        let broker = try RedisConfiguration(url: brokerURL, commandTimeout: .seconds(10))
        let backend = try RedisConfiguration(url: backendURL, commandTimeout: .seconds(10))

        let slots = concurrency ?? ProcessInfo.processInfo.activeProcessorCount
        let databaseURL = connection.databaseURLFlag ?? Environment.value("DATABASE_URL")
        if databaseURL == nil {
            logger.warning("no --database-url or DATABASE_URL: cleartokens and createapplication will fail")
        }
        let metrics = WorkerMetrics(knownTasks: WorkerTasks.taskNames + (debugTasks ? [DebugTasks.sleepTaskName] : []))
        let tasks = try WorkerTasks(
            concurrency: slots, databaseURL: databaseURL, environment: ProcessInfo.processInfo.environment,
            metrics: metrics
        )

        var configuration = RedisWorker.Configuration(broker: broker, backend: backend == broker ? nil : backend)
        configuration.keyPrefix = keyPrefix
        configuration.queues = queueList
        configuration.concurrency = slots
        configuration.name = Self.nodeName(hostname)
        configuration.resultExpires = resultExpires
        configuration.shutdownTimeout = .milliseconds(Int64(shutdownTimeout * 1000))
        configuration.retryPolicy = RetryPolicy(
            maxRetries: maxRetries, base: .milliseconds(Int64(retryBackoff * 1000)),
            maxDelay: .milliseconds(Int64(retryBackoffMax * 1000)), jitter: .full
        )
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
            logger.info("debug tasks enabled: \(DebugTasks.sleepTaskName)")
        }
        let worker = RedisWorker(configuration: configuration, handlers: handlers, logger: logger, metrics: metrics)
        metricsServer?.setHealthCheck { worker.health.status() }
        let signals = WorkerSignals { worker.requestShutdown() }
        defer { signals.cancel() }
        try await worker.run()
    }

    /// `%h` → the host name, as Celery's `-n`.
    static func nodeName(_ pattern: String) -> String {
        var host = ProcessInfo.processInfo.hostName
        if host.isEmpty { host = "localhost" }
        return pattern.replacingOccurrences(of: "%h", with: host)
    }
}
