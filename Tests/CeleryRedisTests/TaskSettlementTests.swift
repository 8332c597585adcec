import CivilCalendar
import Foundation
import CeleryProtocol
@testable import CeleryRedis
import Logging
import Testing

/// ``TaskSettlementRules`` is pure: every outcome's settlement is checked here exactly, without Redis.
@Suite("task settlement rules")
struct TaskSettlementTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let start = ContinuousClock.now
    static let rules = TaskSettlementRules(
        retryPolicy: RetryPolicy(maxRetries: 2, base: .seconds(4), maxDelay: .seconds(60), jitter: .none),
        successResultExpires: ["createapplication": 600], workerName: "w@test"
    )

    struct Input {
        var delivery: RedisDelivery
        var message: CeleryMessage
    }

    static func input(_ task: String = "ping", retries: Int = 0, ignoreResult: Bool? = nil) throws -> Input {
        let made = CeleryMessage.make(taskName: task, ignoreResult: ignoreResult, retries: retries)
        let delivery = RedisDelivery(slot: 1, listKey: "celery", raw: made.raw)
        return Input(delivery: delivery, message: try CeleryMessage.decode(made.raw).get())
    }

    static func settle(_ outcome: TaskOutcome, _ input: Input, name: String = "ping") -> SettledTask {
        rules.settlement(for: outcome, delivery: input.delivery, message: input.message, name: name, now: now, start: start)
    }

    @Test("success: SUCCESS stored with the value, counted as done")
    func success() throws {
        let input = try Self.input()
        let settled = Self.settle(.success("pong"), input)
        #expect(settled.settlement == .ack(result: .success(taskID: input.message.id, result: "pong", dateDone: Self.now)))
        #expect(settled.report?.state == "SUCCESS")
        #expect(settled.report?.failed == false)
        #expect(settled.delivery == input.delivery)
    }

    @Test("success of a task with a shorter result expiry: ackExpiring with its seconds")
    func successExpiring() throws {
        let input = try Self.input("createapplication")
        let settled = Self.settle(.success(["client_id": "x"]), input, name: "createapplication")
        #expect(
            settled.settlement
                == .ackExpiring(result: .success(taskID: input.message.id, result: ["client_id": "x"], dateDone: Self.now), seconds: 600)
        )
    }

    @Test("ignore_result: the message is acked without a result")
    func ignoredResult() throws {
        let input = try Self.input(ignoreResult: true)
        #expect(Self.settle(.success(1), input).settlement == .ack(result: nil))
        #expect(Self.settle(.failed(JobError.failure(type: "ValueError", messages: ["x"])), input).settlement == .ack(result: nil))
    }

    @Test("failure: FAILURE with the exception and traceback, counted as failed")
    func failure() throws {
        let input = try Self.input()
        let error = JobError.failure(type: "ValueError", messages: ["bad"])
        let settled = Self.settle(.failed(error), input)
        #expect(
            settled.settlement
                == .ack(result: .failure(taskID: input.message.id, exception: error.exception.json, traceback: error.traceback, dateDone: Self.now))
        )
        #expect(settled.report?.state == "FAILURE")
        #expect(settled.report?.failed == true)
        #expect(settled.report?.note == "ValueError")
    }

    @Test("an error that is not a JobError becomes RuntimeError")
    func foreignError() throws {
        struct Oops: Error {}
        let input = try Self.input()
        guard case .ack(let result?) = Self.settle(.failed(Oops()), input).settlement else {
            Issue.record("expected an ack with a result")
            return
        }
        #expect(result.state == .failure)
        #expect(result.exception?.type == "RuntimeError")
    }

    @Test("transient with retries left: a copy with retries + 1 parked for the backoff, RETRY stored")
    func retry() throws {
        let input = try Self.input(retries: 1)
        let error = JobError.transient(type: "OperationalError", module: "django.db.utils", messages: ["gone"])
        let settled = Self.settle(.failed(error), input)
        guard case .delay(let copy, let listKey, let until, let result) = settled.settlement else {
            Issue.record("expected delay, got \(settled.settlement)")
            return
        }
        // Attempt 1 without jitter: 4 s × 2¹.
        #expect(until == Self.now.addingTimeInterval(8))
        #expect(listKey == "celery")
        let retried = try CeleryMessage.decode(copy).get()
        #expect(retried.id == input.message.id)
        #expect(retried.retries == 2)
        #expect(retried.eta.map { abs($0.timeIntervalSince(until)) < 0.001 } == true)
        #expect(result?.state == .retry)
        #expect(result?.traceback == "Retry in 8.000s: OperationalError")
        #expect(settled.report?.state == "RETRY")
        #expect(settled.report?.failed == nil)
    }

    @Test("transient with no retries left: FAILURE")
    func retriesExhausted() throws {
        let input = try Self.input(retries: 2)
        let settled = Self.settle(.failed(JobError.transient(type: "OperationalError", messages: ["gone"])), input)
        guard case .ack(let result?) = settled.settlement else {
            Issue.record("expected an ack, got \(settled.settlement)")
            return
        }
        #expect(result.state == .failure)
        #expect(settled.report?.state == "FAILURE")
    }

    @Test("busy: deferred for JobError.busyDelay without a result")
    func busy() throws {
        let input = try Self.input()
        let settled = Self.settle(.failed(JobError.busy("locked")), input)
        guard case .delay(let copy, let listKey, let until, let result) = settled.settlement else {
            Issue.record("expected delay, got \(settled.settlement)")
            return
        }
        #expect(until == Self.now.addingTimeInterval(JobError.busyDelay.seconds))
        #expect(listKey == "celery")
        #expect(result == nil)
        #expect(try CeleryMessage.decode(copy).get().id == input.message.id)
        #expect(settled.report?.state == "DEFERRED")
        #expect(settled.report?.failed == nil)
    }

    @Test("invalid arguments: dead letter with the reason and a FAILURE")
    func invalidArguments() throws {
        let input = try Self.input()
        let error = JobError.invalidArguments("expires must be a number")
        let settled = Self.settle(.failed(error), input)
        guard case .deadLetter(let record, let result) = settled.settlement else {
            Issue.record("expected a dead letter, got \(settled.settlement)")
            return
        }
        #expect(record.reason == "invalid arguments: expires must be a number")
        #expect(record.original == input.delivery.raw)
        #expect(record.worker == "w@test")
        #expect(record.time == Self.now)
        #expect(record.taskID == input.message.id)
        #expect(result?.state == .failure)
        #expect(settled.report?.deadLetter == .invalidArguments)
        #expect(settled.report?.state == "DEAD-LETTERED")
    }

    @Test("shutdown: the message goes back to its list marked redelivered, no result")
    func shutdown() throws {
        let input = try Self.input()
        let settled = Self.settle(.cancelled(.shutdown), input)
        #expect(settled.settlement == .requeue(message: input.message.redelivered(), listKey: "celery"))
        #expect(settled.report?.state == "REQUEUED")
        #expect(settled.report?.failed == nil)
    }

    @Test("soft and hard time limits: FAILURE with billiard's exceptions")
    func timeLimits() throws {
        let input = try Self.input()
        let soft = CeleryResult.failure(type: "SoftTimeLimitExceeded", module: "billiard.exceptions", messages: [])
        #expect(
            Self.settle(.cancelled(.softTimeLimit(1.5)), input).settlement
                == .ack(result: .failure(taskID: input.message.id, exception: soft, dateDone: Self.now))
        )
        let hard = CeleryResult.failure(type: "TimeLimitExceeded", module: "billiard.exceptions", messages: [2])
        let settled = Self.settle(.cancelled(.hardTimeLimit(2)), input)
        #expect(settled.settlement == .ack(result: .failure(taskID: input.message.id, exception: hard, dateDone: Self.now)))
        #expect(settled.report?.note == "hard time limit (2.0 s) exceeded")
        #expect(TaskSettlementRules.number(2.5) == .double(2.5))
    }

    @Test("terminated by revoke: REVOKED stored, counted as failed")
    func revoked() throws {
        let input = try Self.input()
        let settled = Self.settle(.cancelled(.revoked), input)
        #expect(settled.settlement == .ack(result: .revoked(taskID: input.message.id, reason: "terminated", dateDone: Self.now)))
        #expect(settled.report?.state == "REVOKED")
        #expect(settled.report?.failed == true)
    }

    @Test("the log line escapes control characters and never shows arguments")
    func line() {
        let report = TaskReport(name: "evil\nINFO forged", id: "id\u{7F}", state: "SUCCESS", start: Self.start, failed: false, note: "n")
        let line = report.line(now: Self.start + .milliseconds(3))
        #expect(line == "task evil\\x0aINFO forged[id\\x7f] SUCCESS in 3.00 ms (n)")
        #expect(report.metadata(now: Self.start)["state"] == "SUCCESS")
    }

    // MARK: - Messages not run

    static func skip(_ skip: TaskSkip, _ input: Input) -> SettledTask {
        rules.settlement(for: skip, delivery: input.delivery, now: now, start: start)
    }

    @Test("expired and revoked: REVOKED stored (reason expired or revoked), counted as failed; none with ignore_result")
    func revokedAndExpired() throws {
        let input = try Self.input()
        let expired = Self.skip(.expired(input.message, name: "ping"), input)
        #expect(expired.settlement == .ack(result: CeleryResult.revokedExpired(taskID: input.message.id, dateDone: Self.now)))
        #expect(expired.report?.state == "REVOKED")
        #expect(expired.report?.note == "expired")
        #expect(expired.report?.failed == true)
        let revoked = Self.skip(.revoked(input.message, name: "ping"), input)
        #expect(revoked.settlement == .ack(result: CeleryResult.revoked(taskID: input.message.id, dateDone: Self.now)))
        #expect(revoked.report?.note == "revoked")
        let ignored = try Self.input(ignoreResult: true)
        #expect(Self.skip(.revoked(ignored.message, name: "ping"), ignored).settlement == .ack(result: nil))
        #expect(Self.skip(.expired(ignored.message, name: "ping"), ignored).settlement == .ack(result: nil))
    }

    @Test("ETA ahead: the message as fetched parked until its ETA on its list, no result, neither done nor failed")
    func scheduled() throws {
        let input = try Self.input()
        let eta = Self.now.addingTimeInterval(3600)
        let settled = Self.skip(.scheduled(input.message, name: "ping", until: eta), input)
        #expect(settled.settlement == .delay(message: input.delivery.raw, listKey: "celery", until: eta, result: nil))
        #expect(settled.report?.state == "SCHEDULED")
        #expect(settled.report?.failed == nil)
    }

    @Test("a redelivered duplicate of a stored SUCCESS: acked, nothing stored, counted as done")
    func duplicate() throws {
        let input = try Self.input()
        let settled = Self.skip(.duplicate(input.message, name: "ping"), input)
        #expect(settled.settlement == .ack(result: nil))
        #expect(settled.report?.state == "SUCCESS")
        #expect(settled.report?.failed == false)
    }

    @Test("a suspect while another suspect runs: parked for 0.5 s from now; no handler: returned to its list")
    func deferredAndRequeued() throws {
        let input = try Self.input()
        let deferred = Self.skip(.suspectDeferred(input.message, name: "ping"), input)
        #expect(deferred.settlement == .delay(message: input.delivery.raw, listKey: "celery", until: Self.now.addingTimeInterval(0.5), result: nil))
        #expect(deferred.report?.state == "DEFERRED")
        let requeued = Self.skip(.noHandler(input.message, name: "ping"), input)
        #expect(requeued.settlement == .requeue(message: input.delivery.raw, listKey: "celery"))
        #expect(requeued.report?.state == "REQUEUED")
    }

    @Test("a triage rejection: its dead letter and FAILURE, with its metric")
    func rejected() throws {
        let input = try Self.input()
        let triage = TaskTriage(registry: .init(tasks: ["other"]), workerName: "w@test")
        guard case .deadLetter(let rejection) = triage.triage(input.delivery.raw, queue: "celery", now: Self.now) else {
            Issue.record("not rejected")
            return
        }
        let settled = Self.skip(.rejected(rejection), input)
        #expect(settled.settlement == .deadLetter(rejection.record, result: rejection.result))
        #expect(settled.report?.state == "DEAD-LETTERED")
        #expect(settled.report?.deadLetter == .unregistered)
    }
}
