import Foundation
import CeleryProtocol
import OAuthMaintenance
import Postgres
import Redis
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `oauthq worker`'s observability, on the real binary with real servers: the Prometheus endpoint
/// (`--metrics-port`), JSON logs (`--log-format json`), and Celery's own tools (`celery inspect ping`,
/// `celery status`, an events monitor) seeing the worker.
@Suite(
    "oauthq worker observability",
    .enabled(if: TestEnvironment.shouldRunRedis && TestEnvironment.shouldRunPostgres && PythonReference.shouldRun)
)
struct WorkerObservabilityTests {
    // MARK: - Metrics

    @Test("--metrics-port: exact task counters, duration histogram counts, retries, dead letters, connection errors, queue depth")
    func metrics() async throws {
        try await BrokerScope.with("metrics") { scope in
            let port = try TestEnvironment.freeLoopbackPort()
            let closedPostgres = try TestEnvironment.freeLoopbackPort()
            let worker = try WorkerProcess(
                [
                    "-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--result-expires", "600",
                    "--metrics-port", String(port), "--max-retries", "1", "--retry-backoff", "0",
                    "-n", TestEnvironment.uniqueName("metrics") + "@test",
                ],
                // A PostgreSQL that refuses connections: cleartokens fails transiently (RETRY, then FAILURE).
                environment: ["DATABASE_URL": "postgres://postgres@127.0.0.1:\(closedPostgres)/none"]
            )
            try await worker.waitUntilReady()

            for _ in 0..<3 { try await scope.publish("ping") }
            try await scope.publish("ping", args: [1])  // wrong arguments: dead letter (its code ran)
            try await scope.publish("cleartokens", kwargs: ["REFRESH_TOKEN_EXPIRE_SECONDS": -5])  // FAILURE
            try await scope.publish("cleartokens")  // connection refused: RETRY, then FAILURE
            try await scope.publish("no.such.task")  // dead letter: unregistered
            try await scope.pushRaw(Array("not json".utf8))  // dead letter: malformed

            // 9 outcomes in all; the scrape is the only thing waited on.
            var scrape: PrometheusScrape?
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let sample = try PrometheusScrape(HTTPProbe.request(port: port))
                if sample.sum("oauthq_tasks_total") >= 9, sample["oauthq_queue_depth", ["queue": scope.queue]] == 0 {
                    scrape = sample
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            let metrics = try #require(scrape, "the worker did not report 9 task outcomes in time:\n\(worker.log)")

            #expect(metrics["oauthq_tasks_total", ["task": "ping", "state": "SUCCESS"]] == 3)
            #expect(metrics["oauthq_tasks_total", ["task": "ping", "state": "DEAD-LETTERED"]] == 1)
            #expect(metrics["oauthq_tasks_total", ["task": "cleartokens", "state": "FAILURE"]] == 2)
            #expect(metrics["oauthq_tasks_total", ["task": "cleartokens", "state": "RETRY"]] == 1)
            #expect(metrics["oauthq_tasks_total", ["task": "unknown", "state": "DEAD-LETTERED"]] == 2)
            #expect(metrics.sum("oauthq_tasks_total") == 9)
            #expect(metrics["oauthq_task_retries_total", ["task": "cleartokens"]] == 1)
            #expect(metrics["oauthq_dead_letters_total", ["reason": "unregistered"]] == 1)
            #expect(metrics["oauthq_dead_letters_total", ["reason": "malformed"]] == 1)
            #expect(metrics["oauthq_dead_letters_total", ["reason": "invalid_arguments"]] == 1)
            // Run times only for tasks whose code ran: 4 pings, 3 cleartokens runs.
            #expect(metrics["oauthq_task_duration_seconds_count", ["task": "ping"]] == 4)
            #expect(metrics["oauthq_task_duration_seconds_bucket", ["task": "ping", "le": "+Inf"]] == 4)
            #expect(metrics["oauthq_task_duration_seconds_count", ["task": "cleartokens"]] == 3)
            #expect(metrics["oauthq_task_duration_seconds_count", ["task": "unknown"]] == nil)
            #expect((metrics["oauthq_task_duration_seconds_sum", ["task": "ping"]] ?? -1) >= 0)
            #expect(metrics["oauthq_connection_errors_total", ["service": "postgresql"]] == 2)
            #expect(metrics["oauthq_queue_depth", ["queue": scope.queue]] == 0)
            #expect(metrics["oauthq_tasks_active", [:]] == 0)
            #expect(metrics.types["oauthq_task_duration_seconds"] == "histogram")
            #expect(metrics.types["oauthq_tasks_total"] == "counter")
            #expect(metrics.types["oauthq_queue_depth"] == "gauge")

            #expect(try HTTPProbe.request(port: port, path: "/").status == 404)
            #expect(Self.listeningPorts(pid: worker.pid) == [port])

            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
            #expect(!HTTPProbe.isListening(port: port))
        }
    }

    @Test("without --metrics-port nothing listens; OAUTHQ_METRICS_PORT alone turns the endpoint on")
    func metricsOff() async throws {
        let off = try WorkerProcess(["-Q", TestEnvironment.uniqueName("q_off"), "-c", "1"], environment: ["OAUTHQ_METRICS_PORT": ""])
        try await off.waitUntilReady()
        #expect(Self.listeningPorts(pid: off.pid) == [], "a worker without metrics must not listen:\n\(off.log)")
        off.send(SIGTERM)
        #expect(await off.waitForExit() == 0)

        let port = try TestEnvironment.freeLoopbackPort()
        let on = try WorkerProcess(["-Q", TestEnvironment.uniqueName("q_on"), "-c", "1"], environment: ["OAUTHQ_METRICS_PORT": String(port)])
        try await on.waitUntilReady()
        #expect(Self.listeningPorts(pid: on.pid) == [port])
        #expect(try HTTPProbe.request(port: port).status == 200)
        on.send(SIGTERM)
        #expect(await on.waitForExit() == 0)
    }

    /// The TCP ports the process listens on: its socket inodes (`/proc/<pid>/fd`) matched against the kernel's
    /// listening sockets (`/proc/net/tcp`, `tcp6`, state 0A).
    static func listeningPorts(pid: Int32) -> [Int] {
        let fdDirectory = "/proc/\(pid)/fd"
        var inodes = Set<String>()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: fdDirectory)) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDirectory + "/" + entry),
               target.hasPrefix("socket:[") {
                inodes.insert(String(target.dropFirst(8).dropLast()))
            }
        }
        var ports: [Int] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])) else { continue }
                if let port = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) { ports.append(port) }
            }
        }
        return ports.sorted()
    }

    // MARK: - JSON logs

    @Test("--log-format json: every stderr line is a JSON object; no generated client secret appears")
    func jsonLogs() async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_jsonlog") { database in
            let db = try await database.connect()
            _ = try await DOTSchema.migrate(on: db)
            await db.close()
            let queue = TestEnvironment.uniqueName("jsonlog")
            let prefix = TestEnvironment.uniqueName("oauthq_jsonlog")
            let worker = try WorkerProcess(
                ["-Q", queue, "-c", "2", "--key-prefix", prefix, "--result-expires", "600", "--log-format", "json", "-l", "debug"],
                environment: ["DATABASE_URL": database.url, "OAUTHQ_PBKDF2_ITERATIONS": "1000"]
            )
            try await worker.waitUntilReady()
            let q = JSONValue.string(queue)
            let outcomes = try await WorkerInteropTests.client([
                ["task": "createapplication", "queue": q, "args": ["confidential", "client-credentials"], "kwargs": ["name": "json \"log\"\n"]],
                ["task": "ping", "queue": q],
                ["task": "no.such\ntask", "queue": q],
            ])
            try #require(outcomes.count == 3)
            let secret = try #require(outcomes[0]["result"]?.objectValue?["client_secret"]?.stringValue)
            #expect(secret.count == 128)
            #expect(outcomes[2]["type"] == "NotRegistered")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)

            let lines = worker.log.split(separator: "\n", omittingEmptySubsequences: true)
            #expect(lines.count >= 5)
            var messages: [String] = []
            var pingFields: [String: Any]?
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                guard let object else { continue }
                #expect(object["timestamp"] is String && object["level"] is String && object["logger"] is String)
                #expect((object["timestamp"] as? String)?.hasSuffix("Z") == true)
                messages.append(object["message"] as? String ?? "")
                if object["task"] as? String == "ping" { pingFields = object }
                #expect(!line.contains(secret), "a client secret was logged")
            }
            #expect(messages.contains { $0.hasPrefix("task ping[") && $0.contains("SUCCESS") })
            #expect(messages.contains { $0.hasPrefix("task createapplication[") })
            // The task line's fields as JSON fields of their own.
            #expect(pingFields?["state"] as? String == "SUCCESS")
            #expect((pingFields?["task_id"] as? String)?.count == 36)
            #expect(Double(pingFields?["duration_ms"] as? String ?? "") != nil)
            #expect(messages.contains { $0.contains("no.such\\x0atask") }, "control characters stay escaped inside the message")
            #expect(!worker.log.contains(secret))
        }
    }

    @Test("--log-format json: a start-up failure is a JSON line too; a bad format is a usage error")
    func jsonLogFailure() async throws {
        let busy = try MetricsPortHolder()
        let worker = try WorkerProcess(["--log-format", "json", "--metrics-port", String(busy.port)])
        #expect(await worker.waitForExit() == 1)
        let lines = worker.log.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not JSON: \(line)")
        }
        #expect(worker.log.contains("MetricsServerError.bind"))

        let bad = try WorkerProcess(["--log-format", "xml"])
        #expect(await bad.waitForExit() == 2)
        #expect(bad.log.contains("expected text or json"))
    }

    // MARK: - Celery tooling

    static func celery(_ arguments: [String], redisURL: String) async throws -> ProcessOutput {
        try await ProcessRunner.output(
            RepositoryPaths.venvPython, ["-m", "celery", "-A", "celery_app"] + arguments,
            environment: ["REDIS_URL": redisURL, "PYTHONPATH": RepositoryPaths.root.appendingPathComponent("harness/interop").path],
            removing: ["RESULT_BACKEND"]
        )
    }

    @Test("celery inspect ping and celery status list the worker (pidbox), also after Redis restarts; the binding is removed at exit")
    func inspectPing() async throws {
        let redis = try RedisTestServer(.init(durable: true))
        try redis.start()
        defer { redis.stop() }
        // Database 5: the pub/sub channels carry it (/5.celery.pidbox).
        let url = "redis://127.0.0.1:\(redis.port)/5"
        let host = TestEnvironment.uniqueName("oauthq") + "@test"
        let worker = try WorkerProcess(["-Q", "celery", "-c", "1", "-n", host], environment: ["REDIS_URL": url])
        try await worker.waitUntilReady()

        let connection = try await RedisConnection.connect(RedisConfiguration(url: url))
        let member = "\u{06}\u{16}\u{06}\u{16}\(host).celery.pidbox"
        // The node registers its pidbox binding on its own connection, right after the worker starts serving.
        var bound = false
        for _ in 0..<100 where !bound {
            bound = try await connection.command("SISMEMBER", "_kombu.binding.celery.pidbox", member).int == 1
            if !bound { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(bound, "the pidbox binding was not registered within 10 s")

        let ping = try await Self.celery(["inspect", "ping", "--json"], redisURL: url)
        #expect(ping.status == 0, "\(ping.stderr)\n\(worker.log)")
        let replies = try JSONSerialization.jsonObject(with: Data(ping.stdout.utf8)) as? [String: Any]
        #expect((replies?[host] as? [String: String]) == ["ok": "pong"], "\(ping.stdout)")

        let addressed = try await Self.celery(["inspect", "ping", "--json", "-d", host], redisURL: url)
        #expect(addressed.stdout.contains(host) && addressed.stdout.contains("pong"))
        let elsewhere = try await Self.celery(["inspect", "ping", "-d", "celery@elsewhere"], redisURL: url)
        #expect(!elsewhere.stdout.contains(host), "a ping for another node must not be answered")

        let status = try await Self.celery(["status"], redisURL: url)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\(host): OK"))
        #expect(status.stdout.contains("1 node online."))

        // Redis restarts: the worker's pub/sub connection comes back by itself.
        await connection.close()
        redis.kill()
        try redis.start()
        var answered = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !answered, ContinuousClock.now < deadline {
            let again = try await Self.celery(["inspect", "ping", "--json"], redisURL: url)
            answered = again.status == 0 && again.stdout.contains(host)
        }
        #expect(answered, "no pong after a Redis restart:\n\(worker.log)")

        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)
        let after = try await RedisConnection.connect(RedisConfiguration(url: url))
        #expect(try await after.command("SISMEMBER", "_kombu.binding.celery.pidbox", member).int == 0)
        await after.close()
    }

    @Test("a Celery events monitor sees worker-online, heartbeats every 2 s with the worker alive, then worker-offline")
    func events() async throws {
        let redis = try RedisTestServer(.init(durable: true))
        try redis.start()
        defer { redis.stop() }
        let url = "redis://127.0.0.1:\(redis.port)/2"
        let host = TestEnvironment.uniqueName("oauthq") + "@events"
        let monitor = try PythonMonitor(script: "harness/interop/events.py", arguments: [host, "40"], redisURL: url)
        try await monitor.waitFor("listening")

        let worker = try WorkerProcess(["-Q", "celery", "-c", "1", "-n", host], environment: ["REDIS_URL": url])
        try await worker.waitUntilReady()
        try await monitor.waitFor("event worker-heartbeat", count: 3, timeout: .seconds(20))
        worker.send(SIGTERM)
        #expect(await worker.waitForExit() == 0)

        let summary = try await monitor.result()
        let events = try #require(summary["events"] as? [[String: Any]])
        let types = events.compactMap { $0["type"] as? String }
        #expect(types.first == "worker-online")
        #expect(types.last == "worker-offline")
        let heartbeats = events.filter { $0["type"] as? String == "worker-heartbeat" }
        #expect(heartbeats.count >= 3)
        #expect(heartbeats.allSatisfy { $0["alive_after"] as? Bool == true && $0["freq"] as? Double == 2.0 })
        let stamps = heartbeats.compactMap { $0["timestamp"] as? Double }
        for (earlier, later) in zip(stamps, stamps.dropFirst()) {
            #expect(later - earlier > 1.5 && later - earlier < 3.5, "heartbeats \(later - earlier) s apart")
        }
        let clocks = events.compactMap { $0["clock"] as? Int }
        #expect(clocks == clocks.sorted() && Set(clocks).count == clocks.count, "the Lamport clock only grows")
        #expect(summary["known"] as? Bool == true)
        #expect(summary["alive_at_end"] as? Bool == false, "worker-offline must mark the worker gone")
    }
}

/// Holds a listening socket on a free loopback port (so a worker's metrics bind fails).
final class MetricsPortHolder {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// A Python helper from harness/interop running in the background, its stdout in a temporary file.
final class PythonMonitor: @unchecked Sendable {
    // @unchecked Sendable: `process` is started in init, then only polled.
    private let process = Process()
    private let outputURL: URL

    init(script: String, arguments: [String], redisURL: String) throws {
        guard FileManager.default.isExecutableFile(atPath: RepositoryPaths.venvPython.path) else {
            throw WorkerProcessError(message: "no Python venv at \(RepositoryPaths.venvPython.path): run scripts/python-env.sh")
        }
        outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-monitor-\(UUID().uuidString.prefix(8)).out")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputURL)
        process.executableURL = RepositoryPaths.venvPython
        process.arguments = [RepositoryPaths.root.appendingPathComponent(script).path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["REDIS_URL"] = redisURL
        process.environment = environment
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? handle.close()
    }

    var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }

    /// Waits until `line` was printed `count` times.
    func waitFor(_ line: String, count: Int = 1, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while output.split(separator: "\n").filter({ $0 == line }).count < count {
            if ContinuousClock.now > deadline || !process.isRunning {
                throw WorkerProcessError(message: "monitor never printed \(line) ×\(count):\n\(output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits for the exit and returns the final JSON object.
    func result(timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { throw WorkerProcessError(message: "monitor did not finish:\n\(output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let last = output.split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        else { throw WorkerProcessError(message: "no summary from the monitor:\n\(output)") }
        return object
    }

    deinit {
        if process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outputURL)
    }
}

/// A Prometheus text exposition, read by the test (independently of the library that wrote it).
struct PrometheusScrape {
    /// Series values by name and sorted labels.
    private var values: [String: Double] = [:]
    /// `# TYPE` lines: name → type.
    private(set) var types: [String: String] = [:]

    init(_ response: HTTPProbe.Response) throws {
        guard response.status == 200 else { throw WorkerProcessError(message: "scrape failed: \(response.status)") }
        for line in response.text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw WorkerProcessError(message: "bad exposition line: \(line)")
            }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = String(series[..<open])
                let body = series[series.index(after: open)..<series.index(before: series.endIndex)]
                // Values here never contain `",` (task names, states, queue names of the test).
                for pair in body.components(separatedBy: "\",") where !pair.isEmpty {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            }
            values[Self.key(name, labels)] = value
        }
    }

    static func key(_ name: String, _ labels: [String: String]) -> String {
        name + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
    }

    subscript(_ name: String, _ labels: [String: String]) -> Double? {
        values[Self.key(name, labels)]
    }

    /// The sum over every series of `name`.
    func sum(_ name: String) -> Double {
        values.filter { $0.key.hasPrefix(name + "{") }.values.reduce(0, +)
    }
}
