import CivilCalendar
import Foundation
import CeleryProtocol
import Logging

/// A settlement to make for a delivery, and the task's log line once it is made (nil for a message that never
/// started, e.g. the unstarted rest of a batch returned to its queue).
struct SettledTask: Sendable {
    var delivery: RedisDelivery
    var settlement: RedisSettlement
    var report: TaskReport?
}

/// The one log line per task: name, id, state, duration and a note; never arguments or results.
struct TaskReport: Sendable {
    var name: String
    var id: String
    /// `SUCCESS`, `FAILURE`, `RETRY`, `REVOKED`, `DEFERRED`, `SCHEDULED`, `REQUEUED` or `DEAD-LETTERED`.
    var state: String
    var start: ContinuousClock.Instant
    /// true: counts as failed, false: as done, nil: neither (scheduled, retried, requeued).
    var failed: Bool?
    var note: String?
    /// How long the task's code ran; nil when it did not run.
    var runtime: Duration? = nil
    /// Set for a dead letter.
    var deadLetter: WorkerMetrics.DeadLetterReason? = nil

    /// The log line, e.g. `task ping[a1…] SUCCESS in 0.12 ms`. Names and ids come from the message: control
    /// characters are escaped so that no message can forge log lines.
    func line(now: ContinuousClock.Instant = .now) -> String {
        let suffix = note.map { " (\($0))" } ?? ""
        return "task \(PrintableText.escaped(name))[\(PrintableText.escaped(id))] \(state) in \(milliseconds(now: now)) ms\(suffix)"
    }

    /// The line's fields for structured logs (escaped like the line).
    func metadata(now: ContinuousClock.Instant = .now) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "task": .string(PrintableText.escaped(name)), "task_id": .string(PrintableText.escaped(id)), "state": .string(state),
            "duration_ms": .string(milliseconds(now: now)),
        ]
        if let note { metadata["note"] = .string(note) }
        return metadata
    }

    private func milliseconds(now: ContinuousClock.Instant) -> String {
        String(format: "%.2f", (now - start).seconds * 1000)
    }

}

/// A message the worker settles without running it (see ``TaskSettlementRules/settlement(for:delivery:now:start:)``).
enum TaskSkip: Sendable {
    case rejected(TaskTriage.Rejection)
    case expired(CeleryMessage, name: String)
    case revoked(CeleryMessage, name: String)
    case scheduled(CeleryMessage, name: String, until: Date)
    case duplicate(CeleryMessage, name: String)
    case suspectDeferred(CeleryMessage, name: String)
    case noHandler(CeleryMessage, name: String)
}

/// Maps how a task ended to its settlement and log line, without I/O: the worker's outcome table.
///
/// | outcome | settlement | state |
/// |---|---|---|
/// | value | ack with `SUCCESS` (a shorter expiry for the tasks in ``successResultExpires``) | SUCCESS |
/// | ``JobError`` `.invalidArguments` | dead letter with `FAILURE` | DEAD-LETTERED |
/// | `.transient`, retries left | a copy with `retries + 1` parked until now + backoff; `RETRY` stored | RETRY |
/// | `.busy` | parked for ``JobError/busyDelay``, no result | DEFERRED |
/// | any other error | ack with `FAILURE` | FAILURE |
/// | soft / hard time limit | ack with `SoftTimeLimitExceeded` / `TimeLimitExceeded` | FAILURE |
/// | revoked (terminate) | ack with `REVOKED` | REVOKED |
/// | shutdown | the message returned to its list, marked redelivered | REQUEUED |
///
/// No result is stored for a message with `ignore_result`.
struct TaskSettlementRules: Sendable {
    /// Retries of transient failures.
    var retryPolicy: RetryPolicy
    /// `task name → seconds` a `SUCCESS` is kept at most.
    var successResultExpires: [String: Int]
    /// This worker's node name, written into dead letters.
    var workerName: String

    /// The settlement for `outcome` of `message` (registered name `name`) fetched as `delivery`.
    /// - Parameters:
    ///   - now: the wall-clock time retries and deferrals are parked from.
    ///   - start: when the worker began with the message, for the log line's duration.
    func settlement(
        for outcome: TaskOutcome,
        delivery: RedisDelivery,
        message: CeleryMessage,
        name: String,
        now: Date,
        start: ContinuousClock.Instant
    ) -> SettledTask {
        let keepResult = !message.ignoreResult
        func settled(_ settlement: RedisSettlement, _ state: String, failed: Bool?, note: String? = nil) -> SettledTask {
            SettledTask(
                delivery: delivery, settlement: settlement,
                report: TaskReport(name: name, id: message.id, state: state, start: start, failed: failed, note: note)
            )
        }
        switch outcome {
        case .success(let value):
            let result = keepResult ? CeleryResult.success(taskID: message.id, result: value, dateDone: now) : nil
            if let result, let seconds = successResultExpires[name] {
                return settled(.ackExpiring(result: result, seconds: seconds), "SUCCESS", failed: false)
            }
            return settled(.ack(result: result), "SUCCESS", failed: false)

        case .cancelled(.shutdown):
            return settled(
                .requeue(message: message.redelivered(), listKey: delivery.listKey), "REQUEUED", failed: nil,
                note: "worker shutting down"
            )

        case .cancelled(.hardTimeLimit(let seconds)):
            let exception = CeleryResult.failure(type: "TimeLimitExceeded", module: "billiard.exceptions", messages: [Self.number(seconds)])
            return settled(
                .ack(result: keepResult ? CeleryResult.failure(taskID: message.id, exception: exception, dateDone: now) : nil), "FAILURE",
                failed: true, note: "hard time limit (\(seconds) s) exceeded"
            )

        case .cancelled(.softTimeLimit(let seconds)):
            let exception = CeleryResult.failure(type: "SoftTimeLimitExceeded", module: "billiard.exceptions", messages: [])
            return settled(
                .ack(result: keepResult ? CeleryResult.failure(taskID: message.id, exception: exception, dateDone: now) : nil), "FAILURE",
                failed: true, note: "soft time limit (\(seconds) s) exceeded"
            )

        case .cancelled(.revoked):
            return settled(
                .ack(result: keepResult ? CeleryResult.revoked(taskID: message.id, reason: "terminated", dateDone: now) : nil), "REVOKED", failed: true,
                note: "terminated"
            )

        case .failed(let error):
            let jobError = (error as? JobError)
                ?? JobError(.failure, exception: .init(type: "RuntimeError", module: "builtins", messages: [.string(String(describing: error))]))
            let failure = keepResult
                ? CeleryResult.failure(taskID: message.id, exception: jobError.exception.json, traceback: jobError.traceback, dateDone: now) : nil
            switch jobError.kind {
            case .invalidArguments:
                let reason = "invalid arguments: \(jobError.exception.messages.first?.stringValue ?? jobError.exception.type)"
                let record = DeadLetter(
                    reason: reason, time: now, queue: delivery.queue, taskID: message.id, taskName: message.taskName,
                    worker: workerName, original: delivery.raw
                )
                var letter = settled(.deadLetter(record, result: failure), "DEAD-LETTERED", failed: true, note: reason)
                letter.report?.deadLetter = .invalidArguments
                return letter

            case .transient where retryPolicy.shouldRetry(retries: message.retries):
                let delay = retryPolicy.delay(forAttempt: message.retries)
                let eta = now.addingTimeInterval(delay.seconds)
                let retried = message.retried(eta: eta, retries: message.retries + 1, now: now)
                let listKey = CeleryQueue.returnListKey(for: message, fetchedFrom: delivery.listKey)
                let seconds = String(format: "%.3f", delay.seconds)
                let result = keepResult
                    ? CeleryResult(
                        taskID: message.id, state: .retry, result: jobError.exception.json,
                        traceback: "Retry in \(seconds)s: \(jobError.exception.type)"
                    )
                    : nil
                return settled(
                    .delay(message: retried, listKey: listKey, until: eta, result: result), "RETRY", failed: nil,
                    note: "\(jobError.exception.type); retry \(message.retries + 1) in \(seconds) s"
                )

            case .busy:
                let until = now.addingTimeInterval(JobError.busyDelay.seconds)
                return settled(
                    .delay(message: message.deferredAgain(), listKey: delivery.listKey, until: until, result: nil), "DEFERRED", failed: nil,
                    note: "a live run holds this task's lock; delivered again in \(JobError.busyDelay.seconds) s"
                )

            case .failure, .transient:
                return settled(.ack(result: failure), "FAILURE", failed: true, note: jobError.exception.type)
            }
        }
    }

    /// The settlement of a message that is not run: triage's other decisions, a redelivered duplicate whose
    /// `SUCCESS` is stored, a suspect deferred because another runs, a task with no handler.
    ///
    /// | skip | settlement | state |
    /// |---|---|---|
    /// | rejected (triage) | dead letter with its `FAILURE` | DEAD-LETTERED |
    /// | expired | ack with `REVOKED` (`expired`) | REVOKED |
    /// | revoked id | ack with `REVOKED` | REVOKED |
    /// | ETA ahead | the message parked until its ETA | SCHEDULED |
    /// | redelivered, `SUCCESS` stored | ack, nothing stored | SUCCESS |
    /// | suspect while another suspect runs | the message parked for 0.5 s | DEFERRED |
    /// | no handler | the message returned to its list | REQUEUED |
    func settlement(for skip: TaskSkip, delivery: RedisDelivery, now: Date, start: ContinuousClock.Instant) -> SettledTask {
        func settled(_ settlement: RedisSettlement, _ message: CeleryMessage, _ name: String, _ state: String, failed: Bool?, note: String) -> SettledTask {
            SettledTask(
                delivery: delivery, settlement: settlement,
                report: TaskReport(name: name, id: message.id, state: state, start: start, failed: failed, note: note)
            )
        }
        switch skip {
        case .rejected(let rejection):
            return SettledTask(
                delivery: delivery, settlement: .deadLetter(rejection.record, result: rejection.result),
                report: TaskReport(
                    name: rejection.name, id: rejection.id, state: "DEAD-LETTERED", start: start, failed: true,
                    note: rejection.record.reason, deadLetter: rejection.metric
                )
            )
        case .expired(let message, let name):
            let result = message.ignoreResult ? nil : CeleryResult.revokedExpired(taskID: message.id, dateDone: now)
            return settled(.ack(result: result), message, name, "REVOKED", failed: true, note: "expired")
        case .revoked(let message, let name):
            let result = message.ignoreResult ? nil : CeleryResult.revoked(taskID: message.id, dateDone: now)
            return settled(.ack(result: result), message, name, "REVOKED", failed: true, note: "revoked")
        case .scheduled(let message, let name, let eta):
            return settled(
                .delay(message: delivery.raw, listKey: delivery.listKey, until: eta, result: nil), message, name, "SCHEDULED",
                failed: nil, note: "eta \(CeleryTimestamp.format(eta))"
            )
        case .duplicate(let message, let name):
            return settled(.ack(result: nil), message, name, "SUCCESS", failed: false, note: "redelivered duplicate, not run again")
        case .suspectDeferred(let message, let name):
            return settled(
                .delay(message: delivery.raw, listKey: delivery.listKey, until: now.addingTimeInterval(Self.suspectDelay), result: nil),
                message, name, "DEFERRED", failed: nil, note: "another suspect message runs in this worker"
            )
        case .noHandler(let message, let name):
            return settled(.requeue(message: delivery.raw, listKey: delivery.listKey), message, name, "REQUEUED", failed: nil, note: "no handler")
        }
    }

    /// How long a suspect message waits while another suspect runs in this worker.
    static let suspectDelay: TimeInterval = 0.5

    /// A time limit as Celery writes it in `TimeLimitExceeded(…)`: an integer when whole.
    static func number(_ value: Double) -> JSONValue {
        if value.rounded() == value, let integer = Int64(exactly: value) { return .int(integer) }
        return .double(value)
    }
}
