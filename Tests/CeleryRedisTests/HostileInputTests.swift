import Foundation
import CeleryProtocol
import CeleryRedis
import Logging
import Redis
import Testing
import TestSupport

/// Issue 11's proof, table-driven: for every hostile value a sender or a broker writer can produce, the worker
/// (in this process: a trap would end the test run) survives, the message is accounted for (a result, a dead
/// letter or the delayed set), and a ping sent afterwards succeeds.
@Suite("hostile input", .enabled(if: TestEnvironment.shouldRunRedis))
struct HostileInputTests {
    /// Where a case's message must end up.
    enum Accounted: Sendable, CustomStringConvertible {
        /// A result with this state.
        case result(CeleryResult.State)
        /// A dead letter for the message whose reason starts with the text (and a FAILURE when the id is known).
        case deadLetter(String)
        /// A dead letter without a readable id, whose reason starts with the text.
        case anonymousDeadLetter(String)
        /// Parked in the delayed set.
        case delayed
        /// Nothing to account for (a broadcast or a key of oauthq's, not a task).
        case survived

        var description: String {
            switch self {
            case .result(let state): "result \(state.rawValue)"
            case .deadLetter(let reason): "dead letter \(reason)"
            case .anonymousDeadLetter(let reason): "dead letter (no id) \(reason)"
            case .delayed: "delayed"
            case .survived: "survived"
            }
        }
    }

    /// One hostile case: what it does to Redis (returns the task id to follow, if any) and where it must end up.
    struct Case: Sendable {
        var name: String
        var expected: Accounted
        var act: @Sendable (Context) async throws -> String?
    }

    /// What a case may touch.
    struct Context: Sendable {
        let scope: BrokerScope
        let keys: RedisBroker.Keys
        let pidboxChannel: String

        /// A ping message (as kombu stores it) with headers and properties changed by `edit`; LPUSHed to the queue.
        @discardableResult
        func push(
            task: String = "ping", kwargs: JSONObject = [:], list: String? = nil,
            _ edit: @Sendable (inout JSONObject, inout JSONObject) -> Void = { _, _ in }
        ) async throws -> String {
            let (id, raw) = Self.message(task: task, queue: scope.queue, kwargs: kwargs, edit)
            try await scope.pushRaw(raw, list: list)
            return id
        }

        static func message(
            task: String = "ping", queue: String, kwargs: JSONObject = [:],
            _ edit: (inout JSONObject, inout JSONObject) -> Void = { _, _ in }
        ) -> (String, [UInt8]) {
            let made = CeleryMessage.make(taskName: task, kwargs: kwargs, queue: queue)
            var envelope = made.envelope
            var headers = made.headers
            var properties = made.properties
            edit(&headers, &properties)
            envelope["headers"] = .object(headers)
            envelope["properties"] = .object(properties)
            return (made.id, JSONValue.object(envelope).serialized())
        }

        /// Replaces the JSON text of header `name` (for numbers JSON allows but `JSONValue` would not produce).
        func pushRawHeader(_ name: String, _ text: String) async throws -> String {
            let (id, raw) = Self.message(queue: scope.queue) { headers, _ in headers[name] = "@@@" }
            let patched = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "\"@@@\"", with: text)
            try await scope.pushRaw(Array(patched.utf8))
            return id
        }

        func publishPidbox(_ headers: String, body: JSONValue) async throws {
            let encoded = Base64Text.encode(body.serialized())
            let envelope = """
                {"body": "\(encoded)", "content-encoding": "utf-8", "content-type": "application/json", \
                "headers": \(headers), "properties": {"body_encoding": "base64", "delivery_info": \
                {"exchange": "celery.pidbox", "routing_key": ""}, "delivery_mode": 2, "delivery_tag": "t", "priority": 0}}
                """
            _ = try await scope.connection.command([Array("PUBLISH".utf8), Array(pidboxChannel.utf8), Array(envelope.utf8)])
        }
    }

    static let sizeCap = 256 << 10

    static let cases: [Case] = [
        Case(name: "hard time limit 1e10 s (issue 11: killed the worker)", expected: .deadLetter("out of range")) {
            try await $0.pushRawHeader("timelimit", "[1e10, null]")
        },
        Case(name: "soft time limit 1e300 s", expected: .deadLetter("out of range")) {
            try await $0.pushRawHeader("timelimit", "[null, 1e300]")
        },
        Case(name: "negative time limit", expected: .deadLetter("out of range")) {
            try await $0.pushRawHeader("timelimit", "[-1, -2.5]")
        },
        Case(name: "time limit 1e400 (not a finite double)", expected: .anonymousDeadLetter("envelope is not JSON")) {
            _ = try await $0.pushRawHeader("timelimit", "[1e400, null]")
            return nil
        },
        Case(name: "time limit Int64.max", expected: .deadLetter("out of range")) {
            try await $0.pushRawHeader("timelimit", "[9223372036854775807, 9223372036854775807]")
        },
        Case(name: "retries Int64.max (retry arithmetic)", expected: .deadLetter("out of range")) {
            try await $0.pushRawHeader("retries", "9223372036854775807")
        },
        Case(name: "negative retries", expected: .deadLetter("out of range")) {
            try await $0.pushRawHeader("retries", "-9223372036854775808")
        },
        Case(name: "retries 1e300 (a double)", expected: .deadLetter("field headers.retries")) {
            try await $0.pushRawHeader("retries", "1e300")
        },
        Case(name: "priority 1e300 (clamped, runs)", expected: .result(.success)) { context in
            try await context.push { _, properties in properties["priority"] = .double(1e300) }
        },
        Case(name: "priority Int64.min (clamped, runs)", expected: .result(.success)) { context in
            try await context.push { _, properties in properties["priority"] = .int(.min) }
        },
        Case(name: "eta in year 9999 (parked, score in range)", expected: .delayed) { context in
            try await context.push { headers, _ in headers["eta"] = "9999-12-31T23:59:59.999999+00:00" }
        },
        Case(name: "eta in year 1 (runs now)", expected: .result(.success)) { context in
            try await context.push { headers, _ in headers["eta"] = "0001-01-01T00:00:00+00:00" }
        },
        Case(name: "expires in year 1 (revoked)", expected: .result(.revoked)) { context in
            try await context.push { headers, _ in headers["expires"] = "0001-01-01T00:00:00Z" }
        },
        Case(name: "eta year 10000", expected: .deadLetter("field headers.eta")) { context in
            try await context.push { headers, _ in headers["eta"] = "10000-01-01T00:00:00Z" }
        },
        Case(name: "poison pill: 3 workers died holding it", expected: .deadLetter("WorkerLost")) { context in
            try await context.push { headers, _ in headers[CeleryMessage.workerLostHeader] = 3 }
        },
        Case(name: "worker-lost counter Int64.max", expected: .deadLetter("WorkerLost")) { context in
            try await context.push { headers, _ in headers[CeleryMessage.workerLostHeader] = .int(.max) }
        },
        Case(name: "worker-lost counter negative (runs)", expected: .result(.success)) { context in
            try await context.push { headers, _ in headers[CeleryMessage.workerLostHeader] = .int(.min) }
        },
        Case(name: "message over the size cap (not decoded)", expected: .anonymousDeadLetter("message of")) { context in
            try await context.push(task: "ping", kwargs: ["pad": .string(String(repeating: "x", count: sizeCap))])
            return nil
        },
        Case(name: "5,000 kwargs (decoded in linear time)", expected: .result(.success)) { context in
            var kwargs = JSONObject()
            for index in 0..<5_000 { kwargs["k\(index)"] = .int(Int64(index)) }
            return try await context.push(kwargs: kwargs)
        },
        Case(name: "60,000 spaces and control characters in the task name", expected: .deadLetter("unregistered task")) { context in
            let (id, raw) = Context.message(queue: context.scope.queue) { headers, _ in
                headers["task"] = .string(String(repeating: " \u{1}", count: 30_000) + "ping")
            }
            _ = try await context.scope.connection.command([Array("LPUSH".utf8), Array(context.scope.queue.utf8), raw])
            return id
        },
        Case(name: "pidbox clock Int64.max (issue 11: killed every worker)", expected: .survived) { context in
            try await context.publishPidbox(#"{"clock": 9223372036854775807, "ticket": "t"}"#, body: ["method": "ping", "destination": ["nobody@x"]])
            try await context.publishPidbox(#"{"clock": 9223372036854775807}"#, body: ["method": "heartbeat"])
            return nil
        },
        Case(name: "pidbox clock Int64.min, a 1 MiB pattern, a huge destination", expected: .survived) { context in
            try await context.publishPidbox(#"{"clock": -9223372036854775808}"#, body: ["method": "ping"])
            try await context.publishPidbox(
                #"{"clock": 1}"#,
                body: ["method": "ping", "pattern": .string(String(repeating: "(a+)+", count: 200_000)), "matcher": "pcre"]
            )
            try await context.publishPidbox(
                #"{"clock": 1}"#, body: ["method": "ping", "destination": .string(String(repeating: "n", count: 2_000_000))]
            )
            return nil
        },
        Case(name: "a dead worker's hash says concurrency 99999999999999", expected: .result(.success)) { context in
            let (id, raw) = Context.message(queue: context.scope.queue)
            let connection = context.scope.connection
            _ = try await connection.command("SADD", context.keys.workers, "fake-huge")
            _ = try await connection.command("HSET", context.keys.worker("fake-huge"), "concurrency", "99999999999999")
            _ = try await connection.command([Array("LPUSH".utf8), Array(context.keys.processing("fake-huge", slot: 7).utf8), raw])
            return id
        },
        Case(name: "a dead worker's hash is a string (WRONGTYPE)", expected: .survived) { context in
            _ = try await context.scope.connection.command("SADD", context.keys.workers, "fake-string")
            _ = try await context.scope.connection.command("SET", context.keys.worker("fake-string"), "not a hash")
            return nil
        },
        Case(name: "20,000 fake worker ids in the workers set (bounded reaper sweeps)", expected: .survived) { context in
            var command = [Array("SADD".utf8), Array(context.keys.workers.utf8)]
            for index in 0..<20_000 { command.append(Array("fake-\(index)".utf8)) }
            _ = try await context.scope.connection.command(command)
            return nil
        },
        Case(name: "a delayed member whose list became a string", expected: .anonymousDeadLetter("")) { context in
            let list = context.scope.queue + "_wrongtype"
            let (_, raw) = Context.message(queue: list)
            _ = try await context.scope.connection.command("SET", list, "not a list")
            _ = try await context.scope.connection.command(
                [Array("ZADD".utf8), Array(context.keys.delayed.utf8), Array("1".utf8), RedisBroker.delayedMember(listKey: list, message: raw)]
            )
            return nil
        },
    ]

    @Test("every hostile case: the worker survives, the message is accounted for, the next ping succeeds")
    func hostileTable() async throws {
        try await BrokerScope.with("hostile", extraQueues: []) { scope in
            let broker = try RedisConfiguration(url: TestEnvironment.redisURL)
            var configuration = RedisWorker.Configuration(broker: broker)
            configuration.keyPrefix = scope.prefix
            configuration.queues = [scope.queue]
            configuration.concurrency = 2
            configuration.resultExpires = 600
            configuration.name = TestEnvironment.uniqueName("hostile") + "@test"
            configuration.limits = MessageLimits(maximumMessageBytes: Self.sizeCap)
            let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            let worker = RedisWorker(configuration: configuration, handlers: ["ping": { _ in "pong" }], logger: quiet)
            let running = Task { try await worker.run() }
            defer {
                worker.requestShutdown()
                worker.requestShutdown()
            }
            let context = Context(scope: scope, keys: worker.broker.keys, pidboxChannel: PidboxRequest.channel(database: broker.database))
            let warm = try await context.push()
            #expect(try await eventually(timeout: .seconds(30)) { try await scope.result(warm)?.state == .success })

            for hostile in Self.cases {
                let deadBefore = try await scope.length(context.keys.dead)
                let started = ContinuousClock.now
                let id = try await hostile.act(context)
                let accounted = try await eventually(timeout: .seconds(20)) {
                    try await Self.isAccounted(hostile.expected, id: id, deadBefore: deadBefore, context: context)
                }
                #expect(accounted, "\(hostile.name): expected \(hostile.expected)")
                let ping = try await context.push()
                let pinged = try await eventually(timeout: .seconds(20)) { try await scope.result(ping)?.state == .success }
                #expect(pinged, "\(hostile.name): the following ping did not succeed")
                #expect(ContinuousClock.now - started < .seconds(40), "\(hostile.name): took \(ContinuousClock.now - started)")
            }
            worker.requestShutdown()
            try await running.value
            for fake in ["fake-huge", "fake-string"] {
                _ = try? await scope.connection.command("DEL", context.keys.worker(fake))
            }
            _ = try? await scope.connection.command("DEL", scope.queue + "_wrongtype")
        }
    }

    static func isAccounted(_ expected: Accounted, id: String?, deadBefore: Int, context: Context) async throws -> Bool {
        let scope = context.scope
        switch expected {
        case .result(let state):
            guard let id else { return false }
            return try await scope.result(id)?.state == state
        case .deadLetter(let reason):
            guard let id else { return false }
            let letters = try await scope.list(context.keys.dead).compactMap { try? DeadLetter.decode($0).get() }
            guard letters.contains(where: { $0.taskID == id && $0.reason.hasPrefix(reason) }) else { return false }
            return try await scope.result(id)?.state == .failure
        case .anonymousDeadLetter(let reason):
            let letters = try await scope.list(context.keys.dead).dropFirst(deadBefore).compactMap { try? DeadLetter.decode($0).get() }
            if letters.contains(where: { $0.reason.hasPrefix(reason) }) { return true }
            // A member moved as is (no record) is a raw message in the dead list.
            return try await scope.length(context.keys.dead) > deadBefore && reason.isEmpty
        case .delayed:
            guard let id else { return false }
            let members = (try await scope.connection.command("ZRANGE", context.keys.delayed, "0", "-1").array ?? []).compactMap(\.bytes)
            return members.contains { String(decoding: $0, as: UTF8.self).contains(id) }
        case .survived:
            return true
        }
    }

    @Test("oauthq status answers within a second whatever a worker hash says")
    func statusIsBounded() async throws {
        try await BrokerScope.with("hostilestatus") { scope in
            let keys = RedisBroker.Keys(prefix: scope.prefix)
            _ = try await scope.connection.command("SADD", keys.workers, "w-huge", "w-neg", "w-text", "w-wrongtype")
            _ = try await scope.connection.command("HSET", keys.worker("w-huge"), "concurrency", "999999999999", "pid", "99999999999999999999999")
            _ = try await scope.connection.command("HSET", keys.worker("w-neg"), "concurrency", "-3", "done", "-9223372036854775809")
            _ = try await scope.connection.command("HSET", keys.worker("w-text"), "concurrency", "1e300", "failed", "NaN")
            _ = try await scope.connection.command("SET", keys.worker("w-wrongtype"), "x")
            // The same status over four ordinary worker hashes is the baseline: on a machine so loaded that even
            // that takes most of a second (the full suite runs its suites in parallel), the hostile hashes may
            // take at most three times as long; an unbounded walk (e.g. 999,999,999,999 processing lists) would
            // take hours either way.
            let saneKeys = RedisBroker.Keys(prefix: scope.prefix + "-sane")
            for index in 0..<4 {
                _ = try await scope.connection.command("SADD", saneKeys.workers, "w-\(index)")
                _ = try await scope.connection.command("HSET", saneKeys.worker("w-\(index)"), "concurrency", "1", "pid", "1", "done", "3")
            }
            // The best of three each, interleaved, so that a busy moment does not decide it.
            var fastest = Duration.seconds(3600)
            var baseline = Duration.seconds(3600)
            var latest: RedisQueueStatus?
            for _ in 0..<3 {
                let started = ContinuousClock.now
                latest = try await RedisQueueInspector(keys: keys).status(queues: [scope.queue], on: scope.connection)
                fastest = min(fastest, ContinuousClock.now - started)
                let saneStarted = ContinuousClock.now
                _ = try await RedisQueueInspector(keys: saneKeys).status(queues: [scope.queue], on: scope.connection)
                baseline = min(baseline, ContinuousClock.now - saneStarted)
            }
            _ = try await scope.connection.command("DEL", saneKeys.workers, saneKeys.worker("w-0"), saneKeys.worker("w-1"), saneKeys.worker("w-2"), saneKeys.worker("w-3"))
            #expect(fastest < .seconds(1) || fastest < baseline * 3, "status took \(fastest) (ordinary hashes: \(baseline))")
            let status = try #require(latest)
            #expect(status.workers.count == 4)
            #expect(status.workers.allSatisfy { $0.concurrency == 1 && !$0.alive })
        }
    }
}

/// Base64 for test payloads (the library's own encoder is internal).
enum Base64Text {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
