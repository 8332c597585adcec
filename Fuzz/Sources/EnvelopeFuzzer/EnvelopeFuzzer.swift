import Foundation
import CeleryProtocol
import OAuthMaintenance

/// libFuzzer entry point: every input is fed to the envelope decoder and the JSON parser.
///
/// Invariants checked (a violation traps, which libFuzzer reports as a crash):
/// - `CeleryMessage.decode` never traps; on success `redelivered()` and `retried(...)` produce envelopes that decode
///   again to the same task id, name, arguments and retry count.
/// - `JSONValue.parse` never traps; when it accepts an input, serialize → parse gives an equal value and serializing
///   that value again gives the same bytes; `pythonRepr` and `celerySafeRepr` do not trap.
/// - The worker's own triage (`TaskTriage`) never traps on any input, at several clocks and with a small size cap; a
///   message it runs has a time limit within the bounds, and every rejection carries a reason. The dead-letter
///   record of any input encodes and decodes, and never holds a `client_secret` value in clear.
/// - cleartokens settings parsed from a message's kwargs (as the worker renders them) never trap, and the override
///   bounds check never traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []

    if case .success(let message) = CeleryMessage.decode(bytes) {
        let again = message.redelivered()
        guard case .success(let restored) = CeleryMessage.decode(again) else {
            preconditionFailure("redelivered() produced an envelope that does not decode")
        }
        precondition(restored.isRedelivered || message.envelope["headers"] == nil)
        precondition(restored.id == message.id && restored.taskName == message.taskName)
        precondition(restored.args == message.args && restored.kwargs == message.kwargs)

        let eta = Date(timeIntervalSince1970: 1_800_000_000.25)
        let retried = message.retried(eta: eta, retries: message.retries &+ 1, deliveryTag: "t", now: eta)
        guard case .success(let retry) = CeleryMessage.decode(retried) else {
            preconditionFailure("retried() produced an envelope that does not decode")
        }
        precondition(retry.id == message.id && retry.taskName == message.taskName)
        precondition(retry.args == message.args && retry.kwargs == message.kwargs)
        precondition(retry.retries == message.retries &+ 1 && retry.parentID == message.id)
        precondition(retry.eta == eta)
    }

    fuzzTriage(bytes)

    if case .success(let value) = JSONValue.parse(bytes) {
        let serialized = value.serialized()
        guard case .success(let back) = JSONValue.parse(serialized) else {
            preconditionFailure("serialized JSON does not parse")
        }
        precondition(back == value, "parse → serialize → parse changed the value")
        precondition(back.serialized() == serialized, "serialization is not stable")
        _ = value.pythonRepr
        _ = value.celerySafeRepr()
    }
    return 0
}

let triages: [TaskTriage] = [
    TaskTriage(
        registry: .init(tasks: ["ping", "cleartokens", "createapplication"], aliases: ["a": "ping"]),
        defaultTimeLimit: .init(hard: 30, soft: nil), maximumWorkerLosses: 3, workerName: "fuzz@w"
    ),
    TaskTriage(registry: .init(tasks: ["ping"]), limits: MessageLimits(maximumMessageBytes: 2048), maximumWorkerLosses: 0, workerName: "w"),
]
let clocks = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_800_000_000), Date.distantFuture, Date.distantPast]

/// The worker's decisions on `bytes`: never a trap; bounds respected; settings from kwargs parsed without traps.
func fuzzTriage(_ bytes: [UInt8]) {
    for triage in triages {
        for now in clocks {
            switch triage.triage(bytes, queue: "celery", now: now) {
            case .run(let run):
                if let limit = run.timeLimit {
                    precondition(limit.duration > .zero && limit.seconds <= triage.limits.maximumTimeLimitSeconds)
                }
                precondition(triage.registry.tasks.contains(run.name))
                if run.name == "cleartokens" { fuzzSettings(run.message.kwargs) }
            case .deadLetter(let rejection):
                precondition(!rejection.record.reason.isEmpty, "a rejection without a reason")
                let stored = rejection.record.encoded()
                guard case .success(let back) = DeadLetter.decode(stored) else { preconditionFailure("a dead letter that does not decode") }
                precondition(back.reason == rejection.record.reason)
            case .expired, .delay, .revoked:
                break
            }
        }
    }
    if case .success(let message) = CeleryMessage.decode(bytes) {
        fuzzSettings(message.kwargs)
        if case .string(let secret)? = message.kwargs["client_secret"], secret.utf8.count >= 8, secret != DeadLetter.redactedValue {
            let stored = DeadLetter(reason: "fuzz", queue: "q", worker: "w", original: bytes).encoded()
            if case .success(let back) = DeadLetter.decode(stored), case .success(let kept) = CeleryMessage.decode(back.original) {
                precondition(kept.kwargs["client_secret"] != .string(secret), "a client secret kept in clear")
            }
        }
    }
}

/// cleartokens' settings from kwargs, rendered as the worker renders them, then the override bounds.
func fuzzSettings(_ kwargs: JSONObject) {
    var values: [String: String] = [:]
    var overridden = Set<ClearTokensSettings.Key>()
    for (key, value) in kwargs {
        guard let setting = ClearTokensSettings.Key(rawValue: key.uppercased()) else { continue }
        overridden.insert(setting)
        switch value {
        case .null: values[setting.rawValue] = ""
        case .string(let text): values[setting.rawValue] = text
        case .int(let number): values[setting.rawValue] = String(number)
        case .double(let number): values[setting.rawValue] = String(number)
        case .bool(let flag): values[setting.rawValue] = flag ? "true" : "false"
        case .array, .object: continue
        }
    }
    guard let settings = try? ClearTokensSettings(values: values) else { return }
    _ = settings.overrideViolation(overridden: overridden)
    _ = settings.cutoffs(now: Date(timeIntervalSince1970: 1_800_000_000))
}
