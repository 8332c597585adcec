import ArgumentParser
import Foundation
import CeleryProtocol
import CeleryRedis

/// How `oauthq result` and `oauthq enqueue --wait` print a result, and the exit status it maps to.
///
/// Exit status: 0 `SUCCESS`; 3 `FAILURE`; 4 `REVOKED` (including an expired message); 5 not ready (`PENDING`,
/// `STARTED`, `RETRY`, …: unknown id, or still running when `--timeout` ran out). 1 is a Redis or other error and
/// 2 an invalid argument, as for every oauthq command.
enum ResultOutput {
    static let failureExitCode: Int32 = 3
    static let revokedExitCode: Int32 = 4
    static let notReadyExitCode: Int32 = 5

    static func exitCode(for state: CeleryResult.State) -> Int32 {
        switch state {
        case .success: return 0
        case .failure: return failureExitCode
        case .revoked: return revokedExitCode
        default: return notReadyExitCode
        }
    }

    /// Prints `reading` on stdout: the stored JSON with `json` (Celery's own record, or the `PENDING` record
    /// Celery reports for an unknown id), else a few human lines.
    static func print(_ reading: RedisResultBackend.Reading, json: Bool) {
        if json {
            let bytes = reading.raw ?? reading.result.encoded()
            Swift.print(String(decoding: bytes, as: UTF8.self))
            return
        }
        Swift.print(human(reading.result))
    }

    /// `task <id>: SUCCESS at 2026-…` then the result as JSON; for exceptions `Type: message` and the traceback.
    static func human(_ result: CeleryResult) -> String {
        var head = "task \(result.taskID): \(result.state.rawValue)"
        if let done = result.dateDone { head += " at \(CeleryTimestamp.format(done))" }
        switch result.state {
        case .pending:
            return head + " (no result stored: unknown id, or not started yet)"
        case .failure, .revoked, .retry:
            guard let exception = result.exception else { return head + "\n" + result.result.jsonString }
            let qualified = (exception.module.map { $0 == "builtins" ? "" : $0 + "." } ?? "") + exception.type
            let message = exception.messages.map { $0.stringValue ?? $0.jsonString }.joined(separator: ", ")
            var text = head + "\n\(qualified): \(message)"
            if let traceback = result.traceback, !traceback.isEmpty {
                text += "\n" + traceback.trimmingCharacters(in: .newlines)
            }
            return text
        default:
            return head + "\n" + result.result.jsonString
        }
    }

    /// Prints and exits with the state's status (returns normally for `SUCCESS`).
    static func finish(_ reading: RedisResultBackend.Reading, json: Bool) throws {
        print(reading, json: json)
        let code = exitCode(for: reading.result.state)
        if code != 0 { throw ExitCode(code) }
    }
}

/// Where results are read: `--result-backend`, else `$RESULT_BACKEND`, else the broker.
struct ResultBackendOptions: ParsableArguments {
    @Option(
        name: .customLong("result-backend"),
        help: "Redis URL of Celery's result backend (default: $RESULT_BACKEND, else the broker URL).")
    var resultBackendFlag: String?

    func url(broker: String) -> String {
        resultBackendFlag ?? Environment.value("RESULT_BACKEND") ?? broker
    }
}

/// Parses a positive number of seconds for `--timeout` (exit 2 otherwise).
enum ResultTimeout {
    static let defaultSeconds = 60.0

    static func parse(_ text: String?) throws -> Duration {
        guard let text else { return .milliseconds(Int64(defaultSeconds * 1000)) }
        guard let seconds = Double(text), seconds.isFinite, seconds > 0, seconds <= 31_536_000 else {
            throw CommandFailure(exitCode: 2, "--timeout \"\(text)\": expected a positive number of seconds")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
