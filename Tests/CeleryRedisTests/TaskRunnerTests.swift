import Foundation
import CeleryProtocol
@testable import CeleryRedis
import Synchronization
import Testing

/// ``TaskRunner`` without Redis: time limits, terminate, abort, and the never-suspending fast path.
@Suite("task runner")
struct TaskRunnerTests {
    /// Stands in for a slot's connection: the actor handlers start on.
    actor Slot {}

    final class Counter: Sendable {
        private let value = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    static func invocation(slot: Int = 0) -> JobInvocation {
        JobInvocation(message: .make(taskName: "t"), taskName: "t", slot: slot, queue: "celery")
    }

    /// Sleeps for a long time, cooperatively (a cancellation ends it with `CancellationError`).
    static let sleeper: JobHandler = { _ in
        try await Task.sleep(for: .seconds(60))
        return .null
    }

    static func plan(_ kind: TaskTriage.TimeLimitPlan.Kind, milliseconds: Int) -> TaskTriage.TimeLimitPlan {
        .init(kind: kind, seconds: Double(milliseconds) / 1000, duration: .milliseconds(milliseconds))
    }

    /// Waits (bounded) until `runner` runs `count` handlers.
    static func waitRunning(_ runner: TaskRunner, _ count: Int = 1) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while runner.runningCount != count {
            try #require(ContinuousClock.now < deadline, "the handler never started")
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("a handler that never suspends completes without the suspend hook")
    func fastPath() async {
        let runner = TaskRunner()
        let suspended = Counter()
        let outcome = await runner.run({ _ in .string("pong") }, Self.invocation(), timeLimit: nil, isolation: Slot()) {
            suspended.increment()
        }
        guard case .success(let value) = outcome else {
            Issue.record("expected success, got \(outcome)")
            return
        }
        #expect(value == "pong")
        #expect(suspended.count == 0)
        #expect(runner.runningCount == 0)
    }

    @Test("the handler starts isolated to the slot's actor (no executor hop for a handler that never suspends)")
    func isolation() async {
        let runner = TaskRunner()
        let slot = Slot()
        let handler: JobHandler = { _ in
            .bool(#isolation === slot)
        }
        let outcome = await runner.run(handler, Self.invocation(), timeLimit: nil, isolation: slot) {}
        guard case .success(let value) = outcome else {
            Issue.record("expected success, got \(outcome)")
            return
        }
        #expect(value == .bool(true))
    }

    @Test("a handler that suspends calls the hook once, then its value is returned")
    func suspends() async {
        let runner = TaskRunner()
        let suspended = Counter()
        let outcome = await runner.run(
            { _ in
                try await Task.sleep(for: .milliseconds(10))
                return 7
            }, Self.invocation(), timeLimit: nil, isolation: Slot()
        ) {
            suspended.increment()
        }
        guard case .success(let value) = outcome else {
            Issue.record("expected success, got \(outcome)")
            return
        }
        #expect(value == 7)
        #expect(suspended.count == 1)
    }

    @Test("a handler's own error is a failure, not a cancellation")
    func failure() async {
        let runner = TaskRunner()
        let outcome = await runner.run({ _ in throw JobError.failure(type: "ValueError", messages: []) }, Self.invocation(), timeLimit: nil, isolation: Slot()) {}
        guard case .failed(let error) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect((error as? JobError)?.exception.type == "ValueError")
    }

    @Test("the soft time limit cancels the handler")
    func softLimit() async {
        let runner = TaskRunner()
        let started = ContinuousClock.now
        let outcome = await runner.run(Self.sleeper, Self.invocation(), timeLimit: Self.plan(.soft, milliseconds: 50), isolation: Slot()) {}
        guard case .cancelled(.softTimeLimit(let seconds)) = outcome else {
            Issue.record("expected a soft time limit, got \(outcome)")
            return
        }
        #expect(seconds == 0.05)
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("the hard time limit cancels the handler")
    func hardLimit() async {
        let runner = TaskRunner()
        let outcome = await runner.run(Self.sleeper, Self.invocation(), timeLimit: Self.plan(.hard, milliseconds: 50), isolation: Slot()) {}
        guard case .cancelled(.hardTimeLimit(let seconds)) = outcome else {
            Issue.record("expected a hard time limit, got \(outcome)")
            return
        }
        #expect(seconds == 0.05)
    }

    @Test("terminate cancels the running handler as revoked; an idle slot has nothing to terminate")
    func terminate() async throws {
        let runner = TaskRunner()
        #expect(!runner.terminate(slot: 3))
        let running = Task { await runner.run(Self.sleeper, Self.invocation(slot: 3), timeLimit: nil, isolation: Slot()) {} }
        try await Self.waitRunning(runner)
        #expect(runner.terminate(slot: 3))
        // The first reason wins: a second terminate finds it already being cancelled.
        #expect(!runner.terminate(slot: 3))
        guard case .cancelled(.revoked) = await running.value else {
            Issue.record("expected revoked")
            return
        }
        #expect(runner.runningCount == 0)
    }

    @Test("abort cancels running handlers for shutdown, and every handler started after it")
    func abort() async throws {
        let runner = TaskRunner()
        let first = Task { await runner.run(Self.sleeper, Self.invocation(slot: 0), timeLimit: nil, isolation: Slot()) {} }
        let second = Task { await runner.run(Self.sleeper, Self.invocation(slot: 1), timeLimit: nil, isolation: Slot()) {} }
        try await Self.waitRunning(runner, 2)
        runner.abort()
        #expect(runner.isAborting)
        for task in [first, second] {
            guard case .cancelled(.shutdown) = await task.value else {
                Issue.record("expected shutdown")
                return
            }
        }
        let late = await runner.run(Self.sleeper, Self.invocation(), timeLimit: nil, isolation: Slot()) {}
        guard case .cancelled(.shutdown) = late else {
            Issue.record("expected a handler started after abort to be cancelled, got \(late)")
            return
        }
    }

    @Test("a time limit that fires after a terminate keeps the first reason")
    func firstReasonWins() async throws {
        let runner = TaskRunner()
        let running = Task {
            await runner.run(Self.sleeper, Self.invocation(), timeLimit: Self.plan(.hard, milliseconds: 200), isolation: Slot()) {}
        }
        try await Self.waitRunning(runner)
        #expect(runner.terminate(slot: 0))
        guard case .cancelled(.revoked) = await running.value else {
            Issue.record("expected revoked")
            return
        }
    }
}
