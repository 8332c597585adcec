import Foundation
import CeleryProtocol
import CeleryRedis
import OAuthMaintenance
import Testing

/// ``TaskTriage`` is pure: every decision is checked here without Redis.
@Suite("task triage")
struct TaskTriageTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let triage = TaskTriage(
        registry: .init(tasks: ["ping", "cleartokens"], aliases: ["proj.tasks.clear": "cleartokens"]),
        limits: MessageLimits(maximumMessageBytes: 4096), maximumWorkerLosses: 3, workerName: "w@test"
    )

    static func raw(_ task: String = "ping", edit: (inout JSONObject) -> Void = { _ in }) -> [UInt8] {
        let made = CeleryMessage.make(taskName: task)
        var envelope = made.envelope
        var headers = made.headers
        edit(&headers)
        envelope["headers"] = .object(headers)
        return JSONValue.object(envelope).serialized()
    }

    enum Kind: String { case run, expired, delay, revoked, dead }

    static func kind(_ decision: TaskTriage.Decision) -> (Kind, String) {
        switch decision {
        case .run(let run): (.run, run.name)
        case .expired(_, let name): (.expired, name)
        case .delay(_, let name, _): (.delay, name)
        case .revoked(_, let name): (.revoked, name)
        case .deadLetter(let rejection): (.dead, rejection.metric.rawValue + ": " + rejection.record.reason)
        }
    }

    @Test("decisions for ordinary and hostile messages")
    func decisions() {
        let cases: [(String, [UInt8], Kind, String)] = [
            ("ping", Self.raw(), .run, "ping"),
            ("alias", Self.raw("proj.tasks.clear"), .run, "cleartokens"),
            ("unknown", Self.raw("nope"), .dead, "unregistered"),
            ("hard 1e10", Self.raw { $0["timelimit"] = [.double(1e10), .null] }, .dead, "out_of_range"),
            ("soft negative", Self.raw { $0["timelimit"] = [.null, .double(-1)] }, .dead, "out_of_range"),
            ("retries max", Self.raw { $0["retries"] = .int(.max) }, .dead, "out_of_range"),
            ("lost 3", Self.raw { $0[CeleryMessage.workerLostHeader] = 3 }, .dead, "worker_lost"),
            ("lost 2", Self.raw { $0[CeleryMessage.workerLostHeader] = 2 }, .run, "ping"),
            ("expired", Self.raw { $0["expires"] = "2020-01-01T00:00:00Z" }, .expired, "ping"),
            ("eta ahead", Self.raw { $0["eta"] = "9999-01-01T00:00:00Z" }, .delay, "ping"),
            ("eta past", Self.raw { $0["eta"] = "2020-01-01T00:00:00Z" }, .run, "ping"),
            ("too large", Self.raw { $0["pad"] = .string(String(repeating: "x", count: 5000)) }, .dead, "too_large"),
            ("not JSON", Array("{".utf8), .dead, "malformed"),
        ]
        for (name, raw, kind, detail) in cases {
            let (got, text) = Self.kind(Self.triage.triage(raw, queue: "celery", now: Self.now))
            #expect(got == kind, "\(name): \(text)")
            #expect(text.hasPrefix(detail), "\(name): \(text)")
        }
    }

    @Test("a revoked id is dropped when it is due: not while its ETA is ahead, and not before a dead letter or expiry")
    func revokedID() {
        let revoked = CeleryMessage.make(taskName: "ping")
        let id = revoked.id
        func decide(_ edit: @escaping (inout JSONObject) -> Void = { _ in }, task: String = "ping") -> Kind {
            var envelope = revoked.envelope
            var headers = revoked.headers
            headers["task"] = .string(task)
            edit(&headers)
            envelope["headers"] = .object(headers)
            let raw = JSONValue.object(envelope).serialized()
            return Self.kind(Self.triage.triage(raw, queue: "celery", now: Self.now, isRevoked: { $0 == id })).0
        }
        #expect(decide() == .revoked)
        #expect(decide { $0["eta"] = "9999-01-01T00:00:00Z" } == .delay)
        #expect(decide { $0["expires"] = "2020-01-01T00:00:00Z" } == .expired)
        #expect(decide(task: "nope") == .dead)
        // Another id is not revoked.
        #expect(Self.kind(Self.triage.triage(Self.raw(), queue: "celery", now: Self.now, isRevoked: { $0 == id })).0 == .run)
    }

    @Test("the earlier of soft and hard applies; worker defaults fill in; a lost message runs isolated")
    func timeLimitAndIsolation() throws {
        var triage = Self.triage
        triage.defaultTimeLimit = .init(hard: 30, soft: nil)
        guard case .run(let both) = triage.triage(Self.raw { $0["timelimit"] = [.int(10), .double(2.5)] }, queue: "q", now: Self.now)
        else { Issue.record("not run"); return }
        #expect(both.timeLimit?.kind == .soft)
        #expect(both.timeLimit?.duration == .milliseconds(2500))
        #expect(!both.isolate)
        guard case .run(let once) = triage.triage(Self.raw { $0[CeleryMessage.workerLostHeader] = 1 }, queue: "q", now: Self.now)
        else { Issue.record("not run"); return }
        #expect(!once.isolate, "one loss of three: runs as usual")
        guard case .run(let fallback) = triage.triage(Self.raw { $0[CeleryMessage.workerLostHeader] = 2 }, queue: "q", now: Self.now)
        else { Issue.record("not run"); return }
        #expect(fallback.timeLimit == .init(kind: .hard, seconds: 30, duration: .seconds(30)))
        #expect(fallback.isolate, "one loss short of the limit: runs alone")
    }

    @Test("a rejected message with a readable id gets a FAILURE unless it ignores results")
    func rejectionResult() {
        guard case .deadLetter(let rejection) = Self.triage.triage(Self.raw { $0[CeleryMessage.workerLostHeader] = 9 }, queue: "q", now: Self.now)
        else { Issue.record("not dead-lettered"); return }
        #expect(rejection.result?.state == .failure)
        #expect(rejection.result?.exception?.type == "WorkerLostError")
        guard case .deadLetter(let ignored) = Self.triage.triage(
            Self.raw { $0["retries"] = -1; $0["ignore_result"] = true }, queue: "q", now: Self.now)
        else { Issue.record("not dead-lettered"); return }
        #expect(ignored.result == nil)
    }

    @Test("setting overrides from a task are bounded; the environment's values are not checked here")
    func settingOverrides() throws {
        func violation(_ values: [String: String]) throws -> String? {
            let settings = try ClearTokensSettings(values: values)
            return settings.overrideViolation(overridden: Set(values.keys.compactMap(ClearTokensSettings.Key.init(rawValue:))))
        }
        #expect(try violation(["REFRESH_TOKEN_EXPIRE_SECONDS": "59"]) != nil)
        #expect(try violation(["REFRESH_TOKEN_EXPIRE_SECONDS": "60"]) == nil)
        #expect(try violation(["REFRESH_TOKEN_EXPIRE_SECONDS": "0"]) == nil)
        #expect(try violation(["CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": "60.5"]) != nil)
        #expect(try violation(["CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": "1e300"]) != nil)
        #expect(try violation(["CLEAR_EXPIRED_TOKENS_BATCH_SIZE": "9223372036854775807"]) != nil)
        #expect(try violation(["CLEAR_EXPIRED_TOKENS_BATCH_SIZE": "1000"]) == nil)
        #expect(try violation(["REFRESH_TOKEN_GRACE_PERIOD_SECONDS": "1e15"]) != nil)
        // Not overridden by the message: not bounded (the operator's environment).
        let settings = try ClearTokensSettings(values: ["CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": "600"])
        #expect(settings.overrideViolation(overridden: []) == nil)
    }
}
