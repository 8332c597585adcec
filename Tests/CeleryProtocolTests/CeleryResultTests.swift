import Foundation
import Testing

import CeleryProtocol

@Suite struct CeleryResultTests {
    private let id = "2568e1ea-b12c-4804-a1de-ddfcbbed4f40"
    private let done = Fixtures.date("2026-11-30T01:56:21.713571+00:00")

    private func text(_ r: CeleryResult) -> String { String(decoding: r.encoded(now: done), as: UTF8.self) }

    @Test func key() {
        #expect(CeleryResult.key(taskID: id) == "celery-task-meta-2568e1ea-b12c-4804-a1de-ddfcbbed4f40")
    }

    @Test func startedMatchesCelery() {
        #expect(
            text(.started(taskID: id, pid: 7101, hostname: "w1@vm"))
                == #"{"status": "STARTED", "result": {"pid": 7101, "hostname": "w1@vm"}, "traceback": null, "children": [], "date_done": null, "task_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40"}"#
        )
    }

    @Test func successMatchesCelery() {
        let result: JSONValue = ["deleted": 3, "args": [1, "two"], "kwargs": ["dry_run": true]]
        #expect(
            text(.success(taskID: id, result: result, dateDone: done))
                == #"{"status": "SUCCESS", "result": {"deleted": 3, "args": [1, "two"], "kwargs": {"dry_run": true}}, "traceback": null, "children": [], "date_done": "2026-11-30T01:56:21.713571+00:00", "task_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40"}"#
        )
        // date_done defaults to `now` for ready states.
        #expect(text(CeleryResult(taskID: id, state: .success, result: nil)).contains(#""date_done": "2026-11-30T01:56:21.713571+00:00""#))
    }

    @Test func failureMatchesCelery() {
        let r = CeleryResult.failure(
            taskID: id, exception: CeleryResult.failure(type: "ValueError", module: "builtins", messages: ["bad grant authorization-code"]),
            traceback: "Traceback (most recent call last):\n ...", dateDone: done
        )
        #expect(
            text(r)
                == #"{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["bad grant authorization-code"], "exc_module": "builtins"}, "traceback": "Traceback (most recent call last):\n ...", "children": [], "date_done": "2026-11-30T01:56:21.713571+00:00", "task_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40"}"#
        )
    }

    @Test func retryMatchesCelery() {
        let r = CeleryResult(
            taskID: id, state: .retry, result: CeleryResult.failure(type: "KeyError", messages: ["transient"]),
            traceback: "...celery.exceptions.Retry: Retry in 1s: KeyError('transient')\n",
            children: [[[.string(id), nil], nil]], dateDone: done
        )
        #expect(
            text(r)
                == #"{"status": "RETRY", "result": {"exc_type": "KeyError", "exc_message": ["transient"], "exc_module": "builtins"}, "traceback": "...celery.exceptions.Retry: Retry in 1s: KeyError('transient')\n", "children": [[["2568e1ea-b12c-4804-a1de-ddfcbbed4f40", null], null]], "date_done": null, "task_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40"}"#
        )
    }

    @Test func revokedExpiredMatchesCelery() {
        #expect(
            text(.revokedExpired(taskID: id, dateDone: done))
                == #"{"status": "REVOKED", "result": {"exc_type": "TaskRevokedError", "exc_message": ["expired"], "exc_module": "celery.exceptions"}, "traceback": null, "children": [], "date_done": "2026-11-30T01:56:21.713571+00:00", "task_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40"}"#
        )
    }

    @Test func pendingAndOptionalIDs() {
        let r = CeleryResult(taskID: id, state: .pending, groupID: "g", parentID: "p")
        #expect(
            text(r)
                == #"{"status": "PENDING", "result": null, "traceback": null, "children": [], "date_done": null, "group_id": "g", "parent_id": "p", "task_id": "2568e1ea-b12c-4804-a1de-ddfcbbed4f40"}"#
        )
    }

    @Test func microsecondsOmittedWhenZeroLikePython() {
        let r = CeleryResult.success(taskID: "x", result: 1, dateDone: Fixtures.date("2030-01-02T03:04:05Z"))
        #expect(String(decoding: r.encoded(), as: UTF8.self).contains(#""date_done": "2030-01-02T03:04:05+00:00""#))
    }

    @Test func decodesStoredResults() throws {
        let failure = CeleryResult.failure(
            taskID: id, exception: CeleryResult.failure(type: "TokenError", module: "oauthswift.errors", messages: ["expired"]),
            dateDone: done
        )
        let back = try CeleryResult.decode(failure.encoded()).get()
        #expect(back == failure)
        #expect(back.exception == CeleryResult.ExceptionInfo(type: "TokenError", module: "oauthswift.errors", messages: ["expired"]))
        #expect(back.state.isReady)

        let minimal = try CeleryResult.decode(Array(#"{"status": "SUCCESS", "result": 42, "task_id": "x"}"#.utf8)).get()
        #expect(minimal.state == .success && minimal.result == 42 && minimal.dateDone == nil && minimal.children.isEmpty)

        let custom = try CeleryResult.decode(Array(#"{"status": "PROGRESS", "result": {"done": 1}}"#.utf8)).get()
        #expect(custom.state.rawValue == "PROGRESS" && !custom.state.isReady && custom.taskID == "")

        // A plain-string exc_message is one argument, as Python reads it.
        let plain = try CeleryResult.decode(
            Array(#"{"status": "FAILURE", "result": {"exc_type": "RuntimeError", "exc_message": "plain string msg", "exc_module": null}, "task_id": "x"}"#.utf8)
        ).get()
        #expect(plain.exception == CeleryResult.ExceptionInfo(type: "RuntimeError", module: nil, messages: ["plain string msg"]))
    }

    @Test func decodeErrors() {
        #expect(throws: WireDecodingError(code: .invalidJSON, reason: "")) { try CeleryResult.decode([0x7B]).get() }
        #expect(throws: WireDecodingError(code: .notAnObject, reason: "")) { try CeleryResult.decode(Array("[]".utf8)).get() }
        #expect(throws: WireDecodingError(code: .missingField("status"), reason: "")) { try CeleryResult.decode(Array("{}".utf8)).get() }
        #expect(throws: WireDecodingError(code: .wrongType("status"), reason: "")) {
            try CeleryResult.decode(Array(#"{"status": 1}"#.utf8)).get()
        }
        #expect(throws: WireDecodingError(code: .wrongType("date_done"), reason: "")) {
            try CeleryResult.decode(Array(#"{"status": "SUCCESS", "date_done": "yesterday"}"#.utf8)).get()
        }
    }
}
