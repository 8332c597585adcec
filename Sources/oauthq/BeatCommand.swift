import ArgumentParser
import Beat
import Foundation
import CeleryProtocol
import Logging
import Observability
import Redis
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `oauthq beat`: the periodic scheduler, safe to run on several machines at once.
struct BeatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "beat",
        abstract: "Send periodic tasks; any number may run, one leader sends (Redis lock).",
        discussion: """
            Entries come from --schedule (YAML, see examples/beat-schedule.yaml) and/or --entry; with \
            neither, one entry: cleartokens daily at 03:00 (UTC unless --timezone). Every beat tries the \
            lock <prefix>:beat:lock every second; the holder renews it every second and sends; when it \
            dies a standby takes over within the lock TTL plus a second. Each tick is sent at most once \
            (a per-tick Redis guard and a task id derived from the entry and the tick), and the last tick \
            of each entry is kept in <prefix>:beat:last:<entry>: a restarted beat repeats nothing, and with \
            --catch-up once (the default) sends the latest tick it missed once, on start; an entry with no \
            history starts at its next tick. SIGINT or SIGTERM releases the lock and exits 0.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions

    @Option(help: "A YAML schedule file.")
    var schedule: String?

    @Option(
        name: .customLong("entry"),
        help: ArgumentHelp("An entry: the task name, then a cron expression or every <N>s|m|h|d (repeatable).",
                           valueName: "task schedule"))
    var entries: [String] = []

    @Option(help: "Queue for --entry entries and the default entry (default celery); file entries name their own.")
    var queue: String = CeleryQueue.defaultQueue

    @Option(help: "IANA time zone for cron entries (default UTC, or the file's timezone).")
    var timezone: String?

    @Option(name: .customLong("key-prefix"), help: "Prefix of beat's Redis keys (default oauthq, the worker's).")
    var keyPrefix: String = "oauthq"

    @Option(name: .customLong("catch-up"), help: "Missed ticks on start or takeover: once (send the latest once) or none.")
    var catchUp: String = BeatCatchUp.once.rawValue

    @Option(name: .customLong("lock-ttl"), parsing: .unconditional, help: "Seconds the leader lock lives without renewal (default 5; renewed every TTL/5, at most 1 s).")
    var lockTTL: String = "5"

    @Flag(help: "Print the entries and their next three times, then exit (no Redis).")
    var list = false

    /// The configuration from the flags and the file; exit status 2 on any problem.
    func beatConfiguration() throws -> BeatScheduler.Configuration {
        func usage(_ message: String) -> CommandFailure { CommandFailure(exitCode: 2, message) }
        var all: [BeatEntry] = []
        var zone = TimeZone.utc
        do {
            if let schedule {
                let file = try BeatScheduleFile(contentsOf: schedule)
                all += file.entries
                if let fileZone = file.timeZone { zone = fileZone }
            }
            for spec in entries {
                var entry = try BeatEntry(commandLine: spec)
                entry.queue = queue
                try entry.validate()
                all.append(entry)
            }
        } catch {
            throw usage(error.description)
        }
        if all.isEmpty {
            var entry = BeatEntry.defaultEntry
            entry.queue = queue
            all = [entry]
        }
        var seen = Set<String>()
        for entry in all where !seen.insert(entry.name).inserted {
            throw usage("two entries are named \"\(entry.name)\"; names must be unique")
        }
        if let timezone {
            guard let named = TimeZone(identifier: timezone) else {
                throw usage("--timezone \"\(timezone)\" is not a known time zone (e.g. UTC, Europe/Paris)")
            }
            zone = named
        }
        guard let catchUpMode = BeatCatchUp(rawValue: catchUp) else {
            throw usage("--catch-up \"\(catchUp)\": expected once or none")
        }
        guard let ttl = Double(lockTTL), ttl.isFinite, ttl >= 1, ttl <= 3600 else {
            throw usage("--lock-ttl \"\(lockTTL)\": expected seconds from 1 to 3600")
        }
        guard !keyPrefix.isEmpty, !keyPrefix.contains(where: { $0.isWhitespace }) else {
            throw usage("--key-prefix must be non-empty, without spaces")
        }
        return BeatScheduler.Configuration(
            entries: all, timeZone: zone, keys: BeatKeys(prefix: keyPrefix),
            lockTTLMilliseconds: Int64((ttl * 1000).rounded()), catchUp: catchUpMode)
    }

    func run() async throws {
        try await reportingFailures {
            let configuration = try beatConfiguration()
            if list {
                printList(configuration)
                return
            }
            let redis = try connection.redisConfiguration(url: connection.redisURL())
            let log: @Sendable (String) -> Void
            if try logging.format() == .json {
                try logging.bootstrap(level: .info)
                let logger = Logger(label: "oauthq.beat")
                log = { line in logger.info("\(line)") }
            } else {
                log = { line in Console.info("\(CeleryTimestamp.format(Date())) \(line)") }
            }
            let scheduler = BeatScheduler(configuration: configuration, redis: redis, log: log)
            for entry in configuration.entries {
                log("beat: entry \"\(entry.name)\": \(entry.task) \(entry.schedule) queue \(entry.queue)")
            }
            // Until the service group traps them: a signal before then must not kill the process.
            for signalNumber in [SIGTERM, SIGINT] { signal(signalNumber, SIG_IGN) }
            let group = ServiceGroup(
                configuration: .init(
                    services: [SchedulerService(scheduler: scheduler)], gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: Logger(label: "oauthq.beat")
                )
            )
            try await group.run()
        }
    }

    /// The scheduler as a service: a graceful shutdown cancels it (it releases the lock and returns).
    struct SchedulerService: Service {
        let scheduler: BeatScheduler

        func run() async throws {
            let scheduler = self.scheduler
            try await cancelWhenGracefulShutdown {
                try await scheduler.run()
            }
        }
    }

    private func printList(_ configuration: BeatScheduler.Configuration) {
        let zone = configuration.timeZone
        print("time zone: \(zone.identifier == "GMT" ? "UTC" : zone.identifier); key prefix: \(configuration.keys.prefix); catch-up: \(configuration.catchUp.rawValue)")
        let now = Int64(Date().timeIntervalSince1970.rounded(.down))
        for entry in configuration.entries {
            var line = "\(entry.name): \(entry.task) [\(entry.schedule)] queue=\(entry.queue) priority=\(entry.priority)"
            if let expires = entry.expiresSeconds { line += " expires=\(expires)s" }
            if !entry.args.isEmpty { line += " args=\(JSONValue.array(entry.args).jsonString)" }
            if !entry.kwargs.isEmpty { line += " kwargs=\(JSONValue.object(entry.kwargs).jsonString)" }
            print(line)
            var cursor = now
            for _ in 0..<3 {
                guard let next = entry.schedule.next(after: cursor, timeZone: zone) else { break }
                print("  next: \(CeleryTimestamp.format(Date(timeIntervalSince1970: TimeInterval(next))))")
                cursor = next
            }
        }
    }
}
