import Foundation
import Testing

@testable import CeleryProtocol

@Suite struct CeleryMessageErrorTests {
    private static let okHeaders: JSONValue = ["task": "t", "id": "id-1"]

    private static func headers(_ extra: JSONObject) -> JSONValue {
        var h: JSONObject = ["task": "t", "id": "id-1"]
        for (k, v) in extra { h[k] = v }
        return .object(h)
    }

    private static func decodeError(_ raw: [UInt8]) -> CeleryMessageError? {
        if case .failure(let e) = CeleryMessage.decode(raw) { return e }
        return nil
    }

    /// One sample per error code, with whether the task id/name must still be reported.
    static let samples: [(String, [UInt8], CeleryMessageError.Code, Bool)] = [
        ("invalid UTF-8", [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], .invalidUTF8, false),
        ("invalid JSON", Array(#"{"body": "#.utf8), .invalidJSON, false),
        ("truncated", Array(Fixtures.messageA.utf8.prefix(200)), .invalidJSON, false),
        ("array envelope", Array("[1, 2]".utf8), .notAnObject, false),
        ("no content-type", Fixtures.envelope(contentType: nil), .missingField("content-type"), true),
        ("numeric content-type", Fixtures.envelope(contentType: 5), .wrongType("content-type"), true),
        ("pickle", Fixtures.envelope(contentType: "application/x-python-serialize"), .unsupportedContentType, true),
        ("no body", {
            var o = Fixtures.json(String(decoding: Fixtures.envelope(), as: UTF8.self)).objectValue!
            o["body"] = nil
            return JSONValue.object(o).serialized()
        }(), .missingField("body"), true),
        ("body not a string", Fixtures.envelope(body: [[], [:]]), .wrongType("body"), true),
        ("bad base64", Fixtures.envelope(body: "!!!not base64"), .badBase64, true),
        ("unknown body encoding", Fixtures.envelope(properties: ["body_encoding": "rot13"]), .unsupportedBodyEncoding, true),
        ("body not JSON", Fixtures.envelope(body: Fixtures.base64Body("[[], {}, ")), .badBody, true),
        ("body not UTF-8", Fixtures.envelope(body: .string(Data([0x22, 0xFE, 0x22]).base64EncodedString())), .invalidUTF8, true),
        ("body an object", Fixtures.envelope(body: Fixtures.base64Body(#"{"a": 1}"#)), .badBody, true),
        ("body 4 elements", Fixtures.envelope(body: Fixtures.base64Body("[[], {}, null, 1]")), .badBody, true),
        ("args not a list", Fixtures.envelope(body: Fixtures.base64Body(#"[{}, {}, null]"#)), .badBody, true),
        ("kwargs not an object", Fixtures.envelope(body: Fixtures.base64Body(#"[[], [], null]"#)), .badBody, true),
        ("embed a string", Fixtures.envelope(body: Fixtures.base64Body(#"[[], {}, "x"]"#)), .badBody, true),
        ("no headers", {
            var o = Fixtures.json(String(decoding: Fixtures.envelope(), as: UTF8.self)).objectValue!
            o["headers"] = nil
            return JSONValue.object(o).serialized()
        }(), .missingField("headers"), false),
        ("headers a list", Fixtures.envelope(headers: []), .wrongType("headers"), false),
        ("properties a string", Fixtures.envelope(properties: "x"), .wrongType("properties"), true),
        ("no task", Fixtures.envelope(headers: ["id": "id-1"]), .missingField("headers.task"), false),
        ("no id", Fixtures.envelope(headers: ["task": "t"]), .missingField("headers.id"), false),
        ("numeric id", Fixtures.envelope(headers: ["task": "t", "id": 7]), .wrongType("headers.id"), false),
        ("numeric task", Fixtures.envelope(headers: ["task": 7, "id": "id-1"]), .wrongType("headers.task"), false),
        ("eta garbage", Fixtures.envelope(headers: headers(["eta": "tomorrow"])), .invalidTimestamp("headers.eta"), true),
        ("eta impossible", Fixtures.envelope(headers: headers(["eta": "2026-02-30T00:00:00"])), .invalidTimestamp("headers.eta"), true),
        ("expires number", Fixtures.envelope(headers: headers(["expires": 120])), .wrongType("headers.expires"), true),
        ("retries string", Fixtures.envelope(headers: headers(["retries": "1"])), .wrongType("headers.retries"), true),
        ("timelimit scalar", Fixtures.envelope(headers: headers(["timelimit": 60])), .wrongType("headers.timelimit"), true),
        ("timelimit strings", Fixtures.envelope(headers: headers(["timelimit": ["a", nil]])), .wrongType("headers.timelimit"), true),
        ("ignore_result string", Fixtures.envelope(headers: headers(["ignore_result": "yes"])), .wrongType("headers.ignore_result"), true),
        ("root_id number", Fixtures.envelope(headers: headers(["root_id": 1])), .wrongType("headers.root_id"), true),
        ("delivery_info list", Fixtures.envelope(properties: ["body_encoding": "base64", "delivery_info": []]), .wrongType("properties.delivery_info"), true),
        ("delivery_tag number", Fixtures.envelope(properties: ["body_encoding": "base64", "delivery_tag": 1]), .wrongType("properties.delivery_tag"), true),
        ("content-encoding latin-1", {
            var o = Fixtures.json(String(decoding: Fixtures.envelope(), as: UTF8.self)).objectValue!
            o["content-encoding"] = "latin-1"
            return JSONValue.object(o).serialized()
        }(), .unsupportedContentEncoding, true),
    ]

    @Test func everyCodeHasASample() {
        for (name, raw, code, idReadable) in Self.samples {
            guard let error = Self.decodeError(raw) else {
                Issue.record("\(name): accepted")
                continue
            }
            #expect(error.code == code, "\(name): \(error)")
            if idReadable {
                #expect(error.taskID == "id-1" && error.taskName == "t", "\(name): \(error)")
            }
            #expect(!error.reason.isEmpty)
        }
    }

    @Test func idIsReportedForABrokenBody() {
        let a = Fixtures.json(Fixtures.messageA).objectValue!
        var broken = a
        broken["body"] = "%%%"
        let error = Self.decodeError(JSONValue.object(broken).serialized())
        #expect(error?.code == .badBase64)
        #expect(error?.taskID == "2568e1ea-b12c-4804-a1de-ddfcbbed4f40")
        #expect(error?.taskName == "oauth2_provider.cleartokens")
    }

    @Test func protocolOneIsRecognised() {
        let body = Fixtures.base64Body(#"{"task": "old", "id": "v1-id", "args": [], "kwargs": {}}"#)
        let raw = Fixtures.envelope(body: body, headers: [:])
        let error = Self.decodeError(raw)
        #expect(error?.code == .unsupportedProtocol)
        #expect(error?.taskID == "v1-id" && error?.taskName == "old")
    }

    @Test func reasonsNeverContainArgumentValues() {
        let secret = "client-secret-9f8e7d"
        let bodies: [String] = [
            #"[["\#(secret)"], {"k": "\#(secret)"}, "\#(secret)"]"#,
            #"[{"\#(secret)": 1}, {}, null]"#,
            #"[[], ["\#(secret)"], null]"#,
            #"[["\#(secret)""#,
            #"["\#(secret)"]"#,
        ]
        for body in bodies {
            for encoded in [Fixtures.base64Body(body), JSONValue.string(body)] {
                let properties: JSONValue = encoded == .string(body) ? [:] : ["body_encoding": "base64"]
                guard let error = Self.decodeError(Fixtures.envelope(body: encoded, properties: properties)) else {
                    Issue.record("accepted \(body)")
                    continue
                }
                #expect(!error.reason.contains(secret) && !error.description.contains(secret), "\(error)")
            }
        }
        let timestampError = Self.decodeError(Fixtures.envelope(headers: Self.headers(["eta": .string(secret)])))
        #expect(timestampError.map { !$0.reason.contains(secret) } == true)
    }

    @Test func randomGarbageNeverTraps() {
        var rng = SplitMix(seed: 7)
        let a = Fixtures.bytes(Fixtures.messageA)
        for _ in 0..<2_000 {
            var m = a
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let i = Int.random(in: 0..<m.count, using: &rng)
                m[i] = UInt8.random(in: 0...255, using: &rng)
            }
            if case .success(let msg) = CeleryMessage.decode(m) {
                _ = msg.redelivered()
                _ = msg.retried(eta: Date(), retries: msg.retries &+ 1)
            }
        }
    }

    @Test func equalityUsesTheCodeOnly() {
        let a = CeleryMessageError(code: .badBody, reason: "x", taskID: "1")
        let b = CeleryMessageError(code: .badBody, reason: "y")
        #expect(a == b)
        #expect(CeleryMessageError.Code.missingField("a") != .missingField("b"))
        #expect(CeleryMessageError.Code.missingField("headers.id").description == "missingField(headers.id)")
    }
}
