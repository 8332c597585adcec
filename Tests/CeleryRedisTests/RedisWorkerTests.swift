import Foundation
import CeleryProtocol
import CeleryRedis
import Logging
import Redis
import Testing
import TestSupport

/// ``RedisWorker`` in-process with test handlers: retries, time limits, ETAs, heartbeats.
@Suite("RedisWorker engine", .enabled(if: TestEnvironment.shouldRunRedis))
struct RedisWorkerTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Runs a worker on `scope` with `handlers` while `body` runs, then shuts it down and waits for it.
    static func withWorker(
        _ scope: BrokerScope,
        handlers: [String: JobHandler],
        concurrency: Int = 2,
        maxRetries: Int = 3,
        _ body: (RedisWorker) async throws -> Void
    ) async throws {
        var configuration = RedisWorker.Configuration(broker: try RedisConfiguration(url: TestEnvironment.redisURL))
        configuration.keyPrefix = scope.prefix
        configuration.queues = [scope.queue]
        configuration.concurrency = concurrency
        configuration.resultExpires = 600
        configuration.retryPolicy = RetryPolicy(maxRetries: maxRetries, base: .milliseconds(20), maxDelay: .milliseconds(100), jitter: .none)
        let worker = RedisWorker(configuration: configuration, handlers: handlers, logger: quiet)
        let running = Task { try await worker.run() }
        do {
            try await body(worker)
        } catch {
            worker.requestShutdown()
            worker.requestShutdown()
            _ = try? await running.value
            throw error
        }
        worker.requestShutdown()
        try await running.value
    }

    @Test("a transient failure is retried with backoff (same id, retries + 1) until it succeeds")
    func retries() async throws {
        try await BrokerScope.with("retry") { scope in
            let flaky: JobHandler = { invocation in
                if invocation.message.retries < 2 {
                    throw JobError.transient(type: "OperationalError", module: "django.db.utils", messages: ["connection lost"])
                }
                return .int(Int64(invocation.message.retries))
            }
            try await Self.withWorker(scope, handlers: ["flaky": flaky]) { worker in
                let message = try await scope.publish("flaky")
                #expect(try await eventually { try await scope.result(message.id)?.state == .success })
                #expect(try await scope.result(message.id)?.result == 2)
                #expect(worker.counts.done == 1)
            }
        }
    }

    @Test("retries run out: FAILURE with the transient exception")
    func retriesExhausted() async throws {
        try await BrokerScope.with("retryout") { scope in
            let failing: JobHandler = { _ in
                throw JobError.transient(type: "OperationalError", module: "django.db.utils", messages: ["connection lost"])
            }
            try await Self.withWorker(scope, handlers: ["failing": failing], maxRetries: 1) { _ in
                let message = try await scope.publish("failing")
                #expect(try await eventually { try await scope.result(message.id)?.state == .failure })
                #expect(try await scope.result(message.id)?.exception?.type == "OperationalError")
            }
        }
    }

    @Test("the hard time limit cancels the task: FAILURE TimeLimitExceeded; the slot goes on")
    func timeLimit() async throws {
        try await BrokerScope.with("limit") { scope in
            let slow: JobHandler = { _ in
                try await Task.sleep(for: .seconds(30))
                return "late"
            }
            try await Self.withWorker(scope, handlers: ["slow": slow, "ping": { _ in "pong" }], concurrency: 1) { _ in
                let message = try await scope.publish("slow", timeLimit: .init(hard: 0.3))
                let ping = try await scope.publish("ping")
                #expect(try await eventually { try await scope.result(message.id)?.state == .failure })
                let exception = try #require(try await scope.result(message.id)?.exception)
                #expect(exception.type == "TimeLimitExceeded")
                #expect(exception.module == "billiard.exceptions")
                #expect(try await eventually { try await scope.result(ping.id)?.state == .success })
            }
        }
    }

    @Test("an ETA parks the message in the delayed set in Redis, not in memory, and runs it when due")
    func eta() async throws {
        try await BrokerScope.with("eta") { scope in
            try await Self.withWorker(scope, handlers: ["ping": { _ in "pong" }]) { worker in
                // First make sure the worker is up and serving, so its start-up time is not part of the race.
                let warm = try await scope.publish("ping")
                #expect(try await eventually(timeout: .seconds(30)) { try await scope.result(warm.id)?.state == .success })
                // The message must wait in Redis (not run, not sit in memory) until its ETA.
                let message = try await scope.publish("ping", eta: Date().addingTimeInterval(8))
                let delayed = worker.broker.keys.delayed
                #expect(try await eventually { try await scope.connection.command("ZCARD", delayed).int == 1 })
                #expect(try await scope.result(message.id) == nil)
                #expect(try await eventually(timeout: .seconds(30)) { try await scope.result(message.id)?.state == .success })
                #expect(try await scope.connection.command("ZCARD", worker.broker.keys.delayed).int == 0)
            }
        }
    }

    @Test("the worker keeps a heartbeat key with a short TTL and a worker hash; shutdown removes them")
    func heartbeat() async throws {
        try await BrokerScope.with("beat") { scope in
            var keys: RedisBroker.Keys?
            var id = ""
            try await Self.withWorker(scope, handlers: [:]) { worker in
                keys = worker.broker.keys
                id = worker.broker.workerID
                let beating = try await eventually {
                    let ttl = try await scope.connection.command("PTTL", worker.broker.keys.heartbeat(id)).int ?? -2
                    return (1...5000).contains(ttl)
                }
                #expect(beating)
                #expect(try await scope.connection.command("SISMEMBER", worker.broker.keys.workers, id).int == 1)
                #expect(try await scope.connection.command("HGET", worker.broker.keys.worker(id), "concurrency").string == "2")
            }
            let gone = try #require(keys)
            #expect(try await scope.connection.command("EXISTS", gone.heartbeat(id), gone.worker(id)).int == 0)
            #expect(try await scope.connection.command("SISMEMBER", gone.workers, id).int == 0)
        }
    }

    @Test("a blocking task releases the rest of its slot's batch at once: other slots run it meanwhile")
    func batchReleasedWhenATaskBlocks() async throws {
        try await BrokerScope.with("batch") { scope in
            let slow = try await scope.publish("slow")
            var pings: [String] = []
            for _ in 0..<5 { pings.append(try await scope.publish("ping").id) }
            let gate = Gate()
            let handlers: [String: JobHandler] = [
                "slow": { _ in
                    await gate.wait()
                    return "done"
                },
                "ping": { _ in "pong" },
            ]
            try await Self.withWorker(scope, handlers: handlers) { _ in
                let pinged = try await eventually(timeout: .seconds(20)) {
                    try await resultStates(pings, on: scope.connection).count == pings.count
                }
                #expect(pinged)
                #expect(try await scope.result(slow.id) == nil, "the slow task is still running")
                await gate.open()
                #expect(try await eventually { try await scope.result(slow.id)?.state == .success })
            }
        }
    }

    @Test("ignore_result: nothing is stored")
    func ignoreResult() async throws {
        try await BrokerScope.with("ignore") { scope in
            try await Self.withWorker(scope, handlers: ["ping": { _ in "pong" }]) { worker in
                let ignored = try await scope.publish("ping", ignoreResult: true)
                let kept = try await scope.publish("ping")
                #expect(try await eventually { try await scope.result(kept.id) != nil })
                #expect(try await eventually { worker.counts.done == 2 })
                #expect(try await scope.result(ignored.id) == nil)
            }
        }
    }
}

/// A one-shot gate: `wait()` suspends until `open()`.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters = []
    }
}
