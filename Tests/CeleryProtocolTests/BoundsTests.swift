import Foundation
import Testing

@testable import CeleryProtocol

@Suite("bounds on numbers from outside the process")
struct BoundsTests {
    @Test(
        "time limits: nil and 0 mean none; finite values within the bound become durations; the rest is rejected",
        arguments: [
            (nil, "none"), (0, "none"), (0.25, "0.25"), (604_800, "604800.0"), (604_800.5, "reject"), (-1, "reject"),
            (1e10, "reject"), (.infinity, "reject"), (-.infinity, "reject"), (.nan, "reject"), (Double(Int64.max), "reject"),
        ] as [(Double?, String)]
    )
    func timeLimits(value: Double?, expected: String) {
        switch MessageLimits().timeLimit(value, field: "headers.timelimit[0]") {
        case .success(nil): #expect(expected == "none")
        case .success(let duration?):
            let (seconds, attoseconds) = duration.components
            #expect(String(Double(seconds) + Double(attoseconds) / 1e18) == expected)
        case .failure(let violation):
            #expect(expected == "reject")
            #expect(violation.description.hasPrefix("field headers.timelimit[0] "))
        }
    }

    @Test("retries: 0…10,000 accepted, negative and larger rejected")
    func retries() {
        let limits = MessageLimits()
        #expect((try? limits.retries(0).get()) == 0)
        #expect((try? limits.retries(10_000).get()) == 10_000)
        for bad in [-1, 10_001, Int.max, Int.min] {
            #expect((try? limits.retries(bad).get()) == nil)
        }
    }

    @Test("MessageLimits.duration never traps: NaN, infinities and huge values clamp")
    func durations() {
        #expect(MessageLimits.duration(seconds: .nan) == .zero)
        #expect(MessageLimits.duration(seconds: -5) == .zero)
        #expect(MessageLimits.duration(seconds: .infinity) == .seconds(365 * 86_400))
        #expect(MessageLimits.duration(seconds: 1e300) == .seconds(365 * 86_400))
        #expect(MessageLimits.duration(seconds: 1.5) == .milliseconds(1500))
    }

    @Test("the Lamport clock ignores implausible clocks and saturates instead of overflowing")
    func lamportClock() {
        var clock = LamportClock()
        clock.observe(Int64.max)  // issue 11: this value made the next tick trap
        #expect(clock.tick() == 1)
        clock.observe(-5)
        clock.observe(1000)
        #expect(clock.tick() == 1001)
        var top = LamportClock(value: Int64.max)
        #expect(top.tick() == Int64.max)
        #expect(top.tick() == Int64.max)
    }

    @Test("worker-lost counting: absent is 0, non-integers are 0, values clamp, redelivery adds one")
    func workerLost() throws {
        let made = CeleryMessage.make(taskName: "ping")
        #expect(made.workerLostCount == 0)
        let once = try CeleryMessage.decode(made.redeliveredAfterWorkerLoss()).get()
        #expect(once.workerLostCount == 1)
        #expect(once.isRedelivered)
        let twice = try CeleryMessage.decode(once.redeliveredAfterWorkerLoss()).get()
        #expect(twice.workerLostCount == 2)
        var headers = made.headers
        headers[CeleryMessage.workerLostHeader] = .int(.max)
        var envelope = made.envelope
        envelope["headers"] = .object(headers)
        let huge = try CeleryMessage.decode(JSONValue.object(envelope).serialized()).get()
        #expect(huge.workerLostCount == 1_000_000)
        #expect(try CeleryMessage.decode(huge.redeliveredAfterWorkerLoss()).get().workerLostCount == 1_000_000)
    }

    @Test("one return rule: the list a message was fetched from, else its routing at its priority, else celery")
    func returnList() {
        let routed = CeleryMessage.make(taskName: "ping", queue: "oauth", priority: 6)
        #expect(CeleryQueue.returnListKey(for: routed, fetchedFrom: "elsewhere") == "elsewhere")
        #expect(CeleryQueue.returnListKey(for: routed, fetchedFrom: nil) == "oauth" + CeleryQueue.separator + "6")
    }

    @Test("a client secret in kwargs never reaches a dead letter in clear; other messages are stored unchanged")
    func redaction() throws {
        let secret = "s3cr3t-Value-that-must-not-leak"
        let message = CeleryMessage.make(taskName: "createapplication", kwargs: ["client_secret": .string(secret), "name": "app"])
        let letter = DeadLetter(reason: "test", queue: "celery", worker: "w", original: message.raw)
        let stored = letter.encoded()
        #expect(!String(decoding: stored, as: UTF8.self).contains(secret))
        let decoded = try DeadLetter.decode(stored).get()
        let original = try CeleryMessage.decode(decoded.original).get()
        #expect(original.kwargs["client_secret"] == .string(DeadLetter.redactedValue))
        #expect(original.kwargs["name"] == "app")
        #expect(original.id == message.id)
        #expect(!String(decoding: Base64Probe.decode(decoded.original), as: UTF8.self).contains(secret))

        let plain = CeleryMessage.make(taskName: "ping")
        #expect(try DeadLetter.decode(DeadLetter(reason: "r", queue: "q", worker: "w", original: plain.raw).encoded()).get().original == plain.raw)

        // Undecodable but mentioning the keyword: the bytes are withheld.
        let broken = Array("{\"client_secret\": \"\(secret)\"".utf8)
        #expect(try DeadLetter.decode(DeadLetter(reason: "r", queue: "q", worker: "w", original: broken).encoded()).get().original.isEmpty)
    }
}

/// The body of a message with its base64 body decoded, for leak checks.
enum Base64Probe {
    static func decode(_ raw: [UInt8]) -> [UInt8] {
        guard case .success(.object(let envelope)) = JSONValue.parse(raw), case .string(let body)? = envelope["body"],
            let bytes = Data(base64Encoded: body)
        else { return raw }
        return Array(bytes)
    }
}
