import Foundation
import CeleryProtocol
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `oauthq worker --debug-tasks`: the `oauthq.sleep` task the chaos suite uses for work that is in flight.
@Suite("oauthq worker --debug-tasks", .enabled(if: TestEnvironment.shouldRunRedis), .serialized)
struct DebugTasksTests {
    @Test("oauthq.sleep sleeps, logs its start and returns; bad seconds are dead-lettered")
    func sleepTask() async throws {
        try await BrokerScope.with("debugsleep") { scope in
            let worker = try WorkerProcess(
                ["-Q", scope.queue, "-c", "2", "--key-prefix", scope.prefix, "--result-expires", "600", "--debug-tasks"]
            )
            try await worker.waitUntilReady()
            let start = ContinuousClock.now
            let nap = try await scope.publish("oauthq.sleep", kwargs: ["seconds": 0.4])
            let positional = try await scope.publish("oauthq.sleep", args: [0])
            let tooLong = try await scope.publish("oauthq.sleep", kwargs: ["seconds": 601])
            let notNumber = try await scope.publish("oauthq.sleep", kwargs: ["seconds": "1"])
            let all = [nap.id, positional.id, tooLong.id, notNumber.id]
            #expect(try await eventually { try await resultStates(all, on: scope.connection).count == 4 }, "\(worker.log)")
            #expect(ContinuousClock.now - start >= .milliseconds(400))
            let results = try await resultStates(all, on: scope.connection)
            #expect(results[nap.id]?.state == .success)
            #expect(results[nap.id]?.result == ["slept": 0.4])
            #expect(results[positional.id]?.result == ["slept": 0])
            #expect(results[tooLong.id]?.exception?.type == "TypeError")
            #expect(results[notNumber.id]?.exception?.type == "TypeError")
            #expect(try await scope.length(scope.prefix + ":dead") == 2)
            #expect(worker.log.contains("task oauthq.sleep[\(nap.id)] started"))
            #expect(!worker.log.contains("task oauthq.sleep[\(tooLong.id)] started"))
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("without --debug-tasks oauthq.sleep is not registered")
    func offByDefault() async throws {
        try await BrokerScope.with("debugoff") { scope in
            let worker = try WorkerProcess(["-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--result-expires", "600"])
            try await worker.waitUntilReady()
            let message = try await scope.publish("oauthq.sleep", kwargs: ["seconds": 0])
            #expect(try await eventually { try await scope.result(message.id) != nil }, "\(worker.log)")
            #expect(try await scope.result(message.id)?.exception?.type == "NotRegistered")
            #expect(try await scope.length(scope.prefix + ":dead") == 1)
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0)
        }
    }

    @Test("a sleeping task is cancelled by the shutdown timeout and returned to its queue")
    func cancelledByShutdown() async throws {
        try await BrokerScope.with("debugcancel") { scope in
            let worker = try WorkerProcess(
                ["-Q", scope.queue, "-c", "1", "--key-prefix", scope.prefix, "--result-expires", "600", "--debug-tasks",
                 "--shutdown-timeout", "0.3"]
            )
            try await worker.waitUntilReady()
            let message = try await scope.publish("oauthq.sleep", kwargs: ["seconds": 30])
            #expect(try await eventually { worker.log.contains("task oauthq.sleep[\(message.id)] started") })
            worker.send(SIGTERM)
            // Far below the 30 s sleep: the sleep was cancelled, not awaited.
            #expect(await worker.waitForExit(timeout: .seconds(15)) == 0, "\(worker.log)")
            try await scope.expectReturnedUnrun(message.id)
        }
    }
}
