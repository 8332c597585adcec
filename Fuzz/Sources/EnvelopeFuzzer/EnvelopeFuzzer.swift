import Foundation
import JobQueue

/// libFuzzer entry point: every input is fed to the envelope decoder and the JSON parser.
///
/// Invariants checked (a violation traps, which libFuzzer reports as a crash):
/// - `CeleryMessage.decode` never traps; on success `redelivered()` and `retried(...)` produce envelopes that decode
///   again to the same task id, name, arguments and retry count.
/// - `JSONValue.parse` never traps; when it accepts an input, serialize → parse gives an equal value and serializing
///   that value again gives the same bytes; `pythonRepr` and `celerySafeRepr` do not trap.
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
