import Beat
import Foundation
import CeleryProtocol
import Redis
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `oauthq beat` binary against the shared Redis: leader election, failover, restart.
// Serialized: these tests start Celery workers and beat processes; one at a time keeps the 2-core machine usable.
@Suite(.enabled(if: TestEnvironment.shouldRunRedis), .serialized)
struct BeatProcessTests {
    static let entry = "ping every 1s"

    /// Scheduled seconds of the messages in `queue`, via the derived task ids; fails on an unknown id.
    static func ticks(in queue: String, keys: BeatKeys, from: Int64, to: Int64, redis: RedisConnection) async throws
        -> [Int64]
    {
        var byID: [String: Int64] = [:]
        for second in from...to { byID[keys.taskID(entry: entry, scheduled: second)] = second }
        let raw = try await redis.command("LRANGE", queue, "0", "-1").array ?? []
        var ticks: [Int64] = []
        for item in raw {
            let message = try CeleryMessage.decode(try #require(item.bytes)).get()
            #expect(message.taskName == "ping")
            #expect(message.headers["celery_beat_task"] == true)
            let second = try #require(byID[message.id], "message id \(message.id) is no tick of \(entry)")
            ticks.append(second)
        }
        return ticks.sorted()
    }

    /// The leading ISO 8601 timestamp of a beat log line, as unix seconds.
    static func logTime(_ line: Substring) -> Double? {
        guard let token = line.split(separator: " ").first else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var text = String(token)
        // Python-style microseconds: the formatter takes milliseconds, so cut to three digits.
        if let dot = text.firstIndex(of: "."), let end = text[dot...].firstIndex(where: { $0 == "+" || $0 == "-" || $0 == "Z" }),
            text.distance(from: dot, to: end) > 4
        {
            text = String(text[..<text.index(dot, offsetBy: 4)] + text[end...])
        }
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    /// How many ticks a beat's log says it sent.
    static func sends(in log: String) -> Int {
        log.split(separator: "\n").count { $0.contains("beat: sent") }
    }

    /// Returns once the wall clock has reached unix second `second` (bounded by how far away it is).
    static func waitForUnixSecond(_ second: Int64) async {
        while Date().timeIntervalSince1970 < Double(second) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The seconds missing from `ticks` between `low` and `high` (inclusive).
    static func gaps(_ ticks: [Int64], _ low: Int64, _ high: Int64) -> [Int64] {
        let present = Set(ticks)
        return low <= high ? (low...high).filter { !present.contains($0) } : []
    }

    @Test(
        "two beats until ten ticks: exactly one message per tick; kill -9 of the leader: the standby sends within 10 s; restart: no repeat",
        .timeLimit(.minutes(3)))
    func twoBeatsFailoverRestart() async throws {
        let prefix = TestEnvironment.uniqueName("beatproc")
        let queue = prefix + "_q"
        let keys = BeatKeys(prefix: prefix)
        let redis = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
        let arguments = [
            "beat", "--redis-url", TestEnvironment.redisURL, "--key-prefix", prefix, "--queue", queue, "--entry", Self.entry,
        ]
        let binary = RepositoryPaths.oauthqBinary
        let start = Int64(Date().timeIntervalSince1970)
        let first = try BeatChildProcess(binary, arguments)
        let second = try BeatChildProcess(binary, arguments)

        // Phase 1: both run until ten ticks were sent (about ten seconds of contention for the lock).
        let tenSent = await first.waitForLog(timeout: 60) { firstLog in
            Self.sends(in: firstLog) + Self.sends(in: second.log) >= 10
        }
        #expect(tenSent, "ten ticks not sent within 60 s:\n\(first.log)\n---\n\(second.log)")
        let firstLeads = first.log.contains("beat: leader")
        let secondLeads = second.log.contains("beat: leader")
        #expect(firstLeads != secondLeads, "exactly one beat must have led:\n\(first.log)\n---\n\(second.log)")
        let (leader, standby) = firstLeads ? (first, second) : (second, first)

        // Phase 2: kill -9 the leader; the standby must send within 10 s.
        leader.kill(SIGKILL)
        let killedAt = Date().timeIntervalSince1970
        _ = await leader.waitForExit()
        let tookOver = await standby.waitForLog(timeout: 20) { $0.contains("beat: sent") }
        #expect(tookOver, "standby never sent:\n\(standby.log)")
        // When the standby sent, by its own log's timestamp (not when this test got to look: reaping the
        // killed process and polling the log add their own delays under load).
        let sentAt = standby.log.split(separator: "\n").filter { $0.contains("beat: sent") }
            .compactMap { Self.logTime($0) }.first { $0 > killedAt }
        let takeoverSeconds = try #require(sentAt, "no timestamped send after the kill:\n\(standby.log)") - killedAt
        #expect(takeoverSeconds <= 10, "the standby sent \(takeoverSeconds) s after the leader died")
        let sentBeforeKill = Self.sends(in: standby.log)
        #expect(await standby.waitForLog(timeout: 20) { Self.sends(in: $0) >= sentBeforeKill + 3 }, "\(standby.log)")
        standby.kill(SIGINT)
        #expect(await standby.waitForExit() == 0, "SIGINT must stop beat cleanly:\n\(standby.log)")
        #expect(standby.log.contains("beat: released the lock"))
        #expect(try await redis.command("EXISTS", keys.lock).int == 0)
        let stoppedAt = Int64(Date().timeIntervalSince1970)
        let beforeRestart = try await Self.ticks(in: queue, keys: keys, from: start - 2, to: stoppedAt + 2, redis: redis)

        // Phase 3: restart once a tick was missed (the clock passed the next second after the stop): the
        // missed tick once, then on; nothing sent twice.
        await Self.waitForUnixSecond(stoppedAt + 2)
        let restarted = try BeatChildProcess(binary, arguments)
        #expect(
            await restarted.waitForLog(timeout: 20) { $0.contains("sending it once now") && Self.sends(in: $0) >= 3 },
            "\(restarted.log)")
        restarted.kill(SIGINT)
        #expect(await restarted.waitForExit() == 0)
        let end = Int64(Date().timeIntervalSince1970)
        let all = try await Self.ticks(in: queue, keys: keys, from: start - 2, to: end + 2, redis: redis)

        #expect(Set(all).count == all.count, "a tick was sent twice: \(all)")
        // Phase 1: no gap from the first tick to the kill (the tick of the kill's own second may be lost).
        let firstTick = try #require(all.first)
        #expect(firstTick <= start + 15, "the first beat took over \(firstTick - start) s after the start")
        #expect(Self.gaps(all, firstTick, Int64(killedAt) - 1).isEmpty, "gaps before the kill: \(Self.gaps(all, firstTick, Int64(killedAt) - 1))")
        // Phase 2: from the standby's first tick to its stop, no gap.
        // Ticks after the kill's own second can only come from the standby.
        let afterKill = beforeRestart.filter { $0 > Int64(killedAt) }
        let takeoverTick = try #require(afterKill.first)
        #expect(takeoverTick <= Int64(killedAt) + 10)
        #expect(Self.gaps(beforeRestart, takeoverTick, try #require(beforeRestart.last)).isEmpty)
        // Phase 3: the restarted beat sent only new ticks, the first of them the caught-up one.
        let restartTicks = all.filter { !beforeRestart.contains($0) }
        #expect(!restartTicks.isEmpty)
        #expect(restartTicks.allSatisfy { $0 > beforeRestart.last! })
        #expect(restarted.log.contains("sending it once now"), "expected a catch-up:\n\(restarted.log)")
        #expect(Self.gaps(all, restartTicks.first!, restartTicks.last!).isEmpty)
        #expect(try await redis.command("GET", keys.last(entry: Self.entry)).int == all.last)

        try await deleteKeys(redis, matching: prefix + "*")
        try await deleteKeys(redis, matching: "_kombu.binding.\(prefix)*")
    }

    @Test("a Celery 5.7 worker runs beat's messages and sees celery_beat_task", .timeLimit(.minutes(2)))
    func pythonWorkerSeesBeatHeader() async throws {
        let venv = RepositoryPaths.venvPython
        try #require(FileManager.default.isExecutableFile(atPath: venv.path) || TestEnvironment.isCI, "no .venv")
        let prefix = TestEnvironment.uniqueName("beatpy")
        let queue = prefix + "_q"
        let beat = try BeatChildProcess(
            RepositoryPaths.oauthqBinary,
            ["beat", "--redis-url", TestEnvironment.redisURL, "--key-prefix", prefix, "--queue", queue, "--entry", Self.entry])
        #expect(await beat.waitForLog(timeout: 15) { $0.contains("beat: sent") }, "\(beat.log)")
        beat.kill(SIGINT)
        #expect(await beat.waitForExit() == 0)
        let output = try await ProcessRunner.output(
            venv, [RepositoryPaths.root.appendingPathComponent("harness/interop/enqueue_consume.py").path, queue, "1", "60"],
            environment: ["REDIS_URL": TestEnvironment.redisURL])
        #expect(output.status == 0, "\(output.stderr)")
        let record = try #require(try JSONValue.parse(String(output.stdout.split(separator: "\n").first ?? "")).get().objectValue)
        #expect(record["task"] == "ping")
        #expect(record["celery_beat_task"] == true)
        let redis = try await RedisConnection.connect(RedisConfiguration(url: TestEnvironment.redisURL))
        try await deleteKeys(redis, matching: prefix + "*")
        try await deleteKeys(redis, matching: "_kombu.binding.\(prefix)*")
    }

    @Test("--list prints the entries and their next times without Redis")
    func list() async throws {
        let output = try await ProcessRunner.output(
            RepositoryPaths.oauthqBinary,
            ["beat", "--list", "--schedule", RepositoryPaths.root.appendingPathComponent("examples/beat-schedule.yaml").path,
             "--entry", "ping every 30s", "--redis-url", "redis://127.0.0.1:1/0"])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("cleartokens-nightly: cleartokens [0 3 * * *] queue=oauth priority=0 expires=21600s"))
        #expect(output.stdout.contains("ping every 30s: ping [every 30s] queue=celery"))
        #expect(output.stdout.contains("T03:00:00+00:00"))
    }

    @Test("a wrong Redis password: one clear error line, exit 1, the password not echoed (no retry loop)")
    func wrongPassword() async throws {
        // The shared server has no such user: AUTH fails with WRONGPASS, a permanent error.
        let password = "wrong-\(UUID().uuidString.prefix(8))"
        let url = TestEnvironment.redisURL.replacingOccurrences(of: "redis://", with: "redis://nosuchuser:\(password)@")
        let beat = try BeatChildProcess(RepositoryPaths.oauthqBinary, ["beat", "--redis-url", url, "--entry", "ping every 1s"])
        // Far more than a failed AUTH takes; the retrying beat ran until killed here.
        let status = await beat.waitForExit(timeout: 15)
        let errors = beat.log.split(separator: "\n").filter { $0.localizedCaseInsensitiveContains("error") }
        #expect(status == 1, "\(beat.log)")
        #expect(errors.count == 1, "\(beat.log)")
        #expect(errors.first?.hasPrefix("oauthq: error: RedisError(server, WRONGPASS)") == true, "\(beat.log)")
        #expect(!beat.log.contains(password))
    }

    @Test(
        "invalid beat arguments: exit 2 and a clear message",
        arguments: [
            (["--entry", "cleartokens 61 * * * *"], "cron minute field \"61\": 61 is out of range 0-59"),
            (["--entry", "cleartokens"], "write the task name, then the schedule"),
            (["--entry", "ping every 1s", "--entry", "ping every 1s"], "two entries are named"),
            (["--catch-up", "all"], "--catch-up \"all\": expected once or none"),
            (["--timezone", "Nowhere/City"], "not a known time zone"),
            (["--lock-ttl", "0"], "--lock-ttl \"0\""),
            (["--schedule", "/nonexistent.yaml"], "cannot read schedule file"),
        ])
    func invalidArguments(extra: [String], message: String) async throws {
        let output = try await ProcessRunner.output(
            RepositoryPaths.oauthqBinary, ["beat", "--redis-url", "redis://127.0.0.1:1/0"] + extra)
        #expect(output.status == 2)
        #expect(output.stderr.contains(message), "\(output.stderr)")
    }
}
