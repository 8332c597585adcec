import Foundation
import Testing

import CeleryProtocol

@Suite struct DeadLetterTests {
    private let original: [UInt8] = [0x7B, 0xFF, 0xFE, 0x00, 0x22, 0xC3]  // not UTF-8

    @Test func roundTripsNonUTF8Original() throws {
        let letter = DeadLetter(
            reason: "envelope is not UTF-8", time: Fixtures.date("2026-11-30T01:56:21.713571+00:00"), queue: "oauth",
            worker: "oauthq@vm", original: original
        )
        let bytes = letter.encoded()
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"reason": "envelope is not UTF-8", "time": "2026-11-30T01:56:21.713571+00:00", "queue": "oauth", "task_id": null, "task_name": null, "worker": "oauthq@vm", "original": "e//+ACLD"}"#
        )
        #expect(try DeadLetter.decode(bytes).get() == letter)
    }

    @Test func fromDecodeError() throws {
        var a = Fixtures.json(Fixtures.messageA).objectValue!
        a["body"] = "%%%"
        let raw = JSONValue.object(a).serialized()
        guard case .failure(let error) = CeleryMessage.decode(raw) else {
            Issue.record("decoded a broken message")
            return
        }
        let letter = DeadLetter(error: error, queue: "celery", worker: "w", original: raw)
        let back = try DeadLetter.decode(letter.encoded()).get()
        #expect(back.taskID == "2568e1ea-b12c-4804-a1de-ddfcbbed4f40")
        #expect(back.taskName == "oauth2_provider.cleartokens")
        #expect(back.original == raw)
        #expect(back.reason == error.reason)
        // Microsecond precision survives.
        #expect(abs(back.time.timeIntervalSince(letter.time)) < 0.000_001)
    }

    @Test func codableMatchesTheWireFormat() throws {
        let letter = DeadLetter(
            reason: "r", time: Fixtures.date("2030-01-02T03:04:05Z"), queue: "q", taskID: "i", taskName: "t",
            worker: "w", original: original
        )
        let data = try JSONEncoder().encode(letter)
        #expect(try JSONDecoder().decode(DeadLetter.self, from: data) == letter)
        #expect(try DeadLetter.decode(Array(data)).get() == letter)
    }

    @Test func decodeErrors() {
        #expect(throws: WireDecodingError(code: .missingField("time"), reason: "")) {
            try DeadLetter.decode(Array(#"{"reason": "r"}"#.utf8)).get()
        }
        #expect(throws: WireDecodingError(code: .wrongType("original"), reason: "")) {
            try DeadLetter.decode(
                Array(#"{"reason": "r", "time": "2030-01-02T03:04:05Z", "queue": "q", "worker": "w", "original": "%"}"#.utf8)
            ).get()
        }
        #expect(throws: WireDecodingError(code: .notAnObject, reason: "")) { try DeadLetter.decode(Array("1".utf8)).get() }
    }
}
