import Foundation
import CeleryProtocol
import CeleryRedis
import Logging
import Redis
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

/// ``RedisWorker`` inside a swift-service-lifecycle `ServiceGroup`: the group's graceful shutdown is the worker's
/// warm shutdown (the running task finishes, nothing is cancelled), then the worker deregisters.
@Suite("RedisWorker in a service group", .enabled(if: TestEnvironment.shouldRunRedis))
struct WorkerServiceGroupTests {
    struct WorkerService: Service {
        let worker: RedisWorker
        func run() async throws { try await worker.run() }
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }

    @Test("a graceful shutdown of the group lets the running task finish, then the worker deregisters")
    func gracefulShutdown() async throws {
        try await BrokerScope.with("group") { scope in
            let started = Flag()
            let slow: JobHandler = { _ in
                started.set()
                try await Task.sleep(for: .milliseconds(300))
                return "done"
            }
            var configuration = RedisWorker.Configuration(broker: try RedisConfiguration(url: TestEnvironment.redisURL))
            configuration.keyPrefix = scope.prefix
            configuration.queues = [scope.queue]
            configuration.concurrency = 1
            configuration.resultExpires = 600
            configuration.shutdownTimeout = .seconds(30)
            let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            let worker = RedisWorker(configuration: configuration, handlers: ["slow": slow], logger: logger)
            let group = ServiceGroup(configuration: .init(services: [WorkerService(worker: worker)], logger: logger))
            let running = Task { try await group.run() }

            let message = try await scope.publish("slow")
            #expect(try await eventually { started.isSet })
            await group.triggerGracefulShutdown()
            try await running.value

            // Drained, not cancelled: the task's SUCCESS is stored and nothing was returned to the queue.
            #expect(try await scope.result(message.id)?.state == .success)
            #expect(try await scope.length(scope.queue) == 0)
            #expect(worker.counts.done == 1)
            #expect(try await scope.connection.command("SISMEMBER", worker.broker.keys.workers, worker.broker.workerID).int == 0)
            #expect(try await scope.connection.command("EXISTS", worker.broker.keys.heartbeat(worker.broker.workerID)).int == 0)
        }
    }
}
