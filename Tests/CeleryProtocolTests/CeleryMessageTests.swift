import Foundation
import Testing

@testable import CeleryProtocol

@Suite struct CeleryMessageTests {
    // MARK: Captured messages (docs/architecture.md#the-message-envelope)

    @Test func decodesMessageA() throws {
        let m = try CeleryMessage.decode(Fixtures.bytes(Fixtures.messageA)).get()
        #expect(m.raw == Fixtures.bytes(Fixtures.messageA))
        #expect(m.taskName == "oauth2_provider.cleartokens")
        #expect(m.id == "2568e1ea-b12c-4804-a1de-ddfcbbed4f40")
        #expect(m.args == [1, "two"])
        #expect(m.kwargs == ["dry_run": true])
        #expect(m.embed == CeleryMessage.emptyEmbed)
        #expect(m.eta == nil && m.expires == nil)
        #expect(m.retries == 0)
        #expect(m.timeLimit == .none)
        #expect(m.ignoreResult == false)
        #expect(m.rootID == m.id && m.parentID == nil)
        #expect(m.origin == "gen6811@vm")
        #expect(m.priority == 0)
        #expect(m.exchange == "" && m.routingKey == "celery")
        #expect(m.queue() == "celery")
        #expect(m.deliveryTag == "9e8c6cb2-f26e-488d-854d-5ae87b590eea")
        #expect(m.isRedelivered == false)
        // The envelope re-serializes to the exact bytes kombu wrote.
        #expect(JSONValue.object(m.envelope).serialized() == m.raw)
        #expect(Base64.decode(m.envelope["body"]!.stringValue!) == Fixtures.bytes(Fixtures.decodedBodyA))
    }

    @Test func decodesMessageB() throws {
        let m = try CeleryMessage.decode(Fixtures.bytes(Fixtures.messageB)).get()
        #expect(m.taskName == "oauth2_provider.createapplication")
        #expect(m.args == ["confidential", "authorization-code"])
        #expect(m.kwargs == ["name": "svc"])
        #expect(m.eta == Fixtures.date("2026-11-30T01:56:30.690517+00:00"))
        #expect(m.expires == Fixtures.date("2026-11-30T01:58:00.690517+00:00"))
        #expect(m.priority == 5)
        #expect(m.routingKey == "oauth")
        #expect(m.properties["expiration"] == "120000")
        #expect(CeleryQueue.listKey(queue: m.queue(), priority: m.priority) == "oauth\u{06}\u{16}3")
        #expect(m.isExpired(now: Fixtures.date("2026-11-30T01:58:00.690517+00:00")))
        #expect(!m.isExpired(now: Fixtures.date("2026-11-30T01:58:00.690516+00:00")))
        #expect(JSONValue.object(m.envelope).serialized() == m.raw)
    }

    // MARK: make

    @Test func makeReproducesMessageAByteForByte() {
        let m = CeleryMessage.make(
            taskName: "oauth2_provider.cleartokens", id: "2568e1ea-b12c-4804-a1de-ddfcbbed4f40", args: [1, "two"],
            kwargs: ["dry_run": true], origin: "gen6811@vm", replyTo: "827bca87-3058-3e4a-a00d-27ab54e7f022",
            deliveryTag: "9e8c6cb2-f26e-488d-854d-5ae87b590eea"
        )
        #expect(String(decoding: m.raw, as: UTF8.self) == Fixtures.messageA)
    }

    @Test func makeReproducesMessageBByteForByte() {
        let now = Fixtures.date("2026-11-30T01:56:00.690517+00:00")
        let m = CeleryMessage.make(
            taskName: "oauth2_provider.createapplication", id: "852feafa-4d26-41e4-869e-ed810c4b7557",
            args: ["confidential", "authorization-code"], kwargs: ["name": "svc"], queue: "oauth", priority: 5,
            eta: now.addingTimeInterval(30), expires: now.addingTimeInterval(120), origin: "gen6811@vm",
            replyTo: "827bca87-3058-3e4a-a00d-27ab54e7f022", deliveryTag: "64956f7d-b84b-43b4-ae0c-7f4f70d883bc",
            now: now
        )
        #expect(String(decoding: m.raw, as: UTF8.self) == Fixtures.messageB)
    }

    @Test func makeReproducesMessageCFields() throws {
        // send_task('oauth2_provider.cleartokens', eta=datetime(2030,1,2,3,4,5,UTC), expires=datetime(2030,1,3,UTC), priority=9)
        let expires = Fixtures.date("2030-01-03T00:00:00+00:00")
        let now = expires.addingTimeInterval(-97_625_039.305)
        let m = CeleryMessage.make(
            taskName: "oauth2_provider.cleartokens", priority: 9, eta: Fixtures.date("2030-01-02T03:04:05Z"),
            expires: expires, now: now
        )
        let decoded = try CeleryMessage.decode(m.raw).get()
        #expect(decoded.headers["eta"] == "2030-01-02T03:04:05+00:00")
        #expect(decoded.headers["expires"] == "2030-01-03T00:00:00+00:00")
        #expect(decoded.properties["expiration"] == "97625039305")
        #expect(decoded.priority == 9)
        #expect(decoded.args.isEmpty && decoded.kwargs.isEmpty)
        #expect(CeleryQueue.listKey(queue: decoded.queue(), priority: decoded.priority) == "celery\u{06}\u{16}9")
        // Celery's `args or ()` makes empty args a tuple: "()".
        #expect(decoded.headers["argsrepr"] == "()" && decoded.headers["kwargsrepr"] == "{}")
    }

    @Test func makeHasKombuStructureWithRandomFields() throws {
        let m = CeleryMessage.make(taskName: "oauth2_provider.cleartokens", args: [1, "two"], kwargs: ["dry_run": true])
        let made = try JSONValue.parse(m.raw).get().objectValue!
        let reference = Fixtures.json(Fixtures.messageA).objectValue!
        #expect(made.keys == reference.keys)
        #expect(made["headers"]!.objectValue!.keys == reference["headers"]!.objectValue!.keys)
        #expect(made["properties"]!.objectValue!.keys == reference["properties"]!.objectValue!.keys)
        // Equal to message A once the per-send values are swapped in.
        var headers = made["headers"]!.objectValue!
        var properties = made["properties"]!.objectValue!
        let refHeaders = reference["headers"]!.objectValue!
        let refProperties = reference["properties"]!.objectValue!
        for key in ["id", "root_id", "origin"] { headers[key] = refHeaders[key] }
        for key in ["correlation_id", "reply_to", "delivery_tag"] { properties[key] = refProperties[key] }
        var normalised = made
        normalised["headers"] = .object(headers)
        normalised["properties"] = .object(properties)
        #expect(normalised == reference)
        // Random ids look like Python's str(uuid4()).
        let id = m.id
        #expect(id == id.lowercased() && UUID(uuidString: id) != nil && id != m.deliveryTag)
        #expect(m.rootID == id)
        #expect(m.origin == CeleryMessage.defaultOrigin && m.origin!.hasPrefix("gen"))
    }

    @Test func makeThenDecodeRoundTrips() throws {
        let eta = Fixtures.date("2030-01-02T03:04:05.123456+00:00")
        let m = CeleryMessage.make(
            taskName: "createapplication", args: ["confidential", "é😀"], kwargs: ["name": "svc", "n": 2.5],
            queue: "oauth", priority: 7, eta: eta, expires: eta.addingTimeInterval(60),
            timeLimit: .init(hard: 60, soft: 30.5), ignoreResult: true, retries: 2, parentID: "p", rootID: "r",
            extraHeaders: ["celery_beat_task": true, "lang": "swift"]
        )
        let d = try CeleryMessage.decode(m.raw).get()
        #expect(d == m)
        #expect(d.eta == eta)
        #expect(d.timeLimit == .init(hard: 60, soft: 30.5))
        #expect(d.headers["timelimit"] == [60, 30.5])
        #expect(d.ignoreResult && d.retries == 2 && d.parentID == "p" && d.rootID == "r")
        #expect(d.priority == 7 && d.routingKey == "oauth")
        // Extra headers: existing keys replaced in place, new ones appended (dict.update).
        #expect(d.headers.keys.first == "lang" && d.headers["lang"] == "swift")
        #expect(d.headers.keys.last == "celery_beat_task")
        #expect(d.headers["kwargsrepr"] == "{'name': 'svc', 'n': 2.5}")
    }

    @Test func makeClampsPriorityAndPastExpiry() throws {
        let now = Date()
        let m = CeleryMessage.make(taskName: "t", priority: 42, expires: now.addingTimeInterval(-5), now: now)
        #expect(m.priority == 9)
        #expect(m.properties["expiration"] == "0")
        #expect(CeleryMessage.make(taskName: "t", priority: -3).priority == 0)
    }

    // MARK: Accepted variants (what a Celery 5.7 worker accepts: docs/architecture.md#the-message-envelope)

    @Test func acceptsPlainJSONBody() throws {
        let raw = Fixtures.envelope(
            body: .string(#"[[1], {"a": 1}, null]"#),
            properties: ["delivery_tag": "x", "delivery_info": ["exchange": "", "routing_key": "q"]]
        )
        let m = try CeleryMessage.decode(raw).get()
        #expect(m.args == [1] && m.kwargs == ["a": 1] && m.embed == nil)
        #expect(m.routingKey == "q")
    }

    @Test func acceptsMinimalHeadersNullLangTwoElementBodyAndNoProperties() throws {
        let raw = Fixtures.envelope(
            body: .string(#"[[], {}]"#), headers: ["lang": nil, "task": "t", "id": "i"], properties: nil
        )
        let m = try CeleryMessage.decode(raw).get()
        #expect(m.taskName == "t" && m.id == "i" && m.retries == 0 && m.deliveryTag == nil && m.routingKey == nil)
        #expect(m.queue() == "celery")
    }

    @Test(arguments: [
        ("2026-11-30T01:56:30.690517+00:00", "2026-11-30T01:56:30.690517+00:00"),
        ("2026-11-30T01:56:30.690517Z", "2026-11-30T01:56:30.690517+00:00"),
        ("2026-11-30T01:56:30", "2026-11-30T01:56:30+00:00"),
        ("2026-11-30T03:56:30.5+02:00", "2026-11-30T01:56:30.500000+00:00"),
        ("2026-11-29T20:26:30-05:30", "2026-11-30T01:56:30+00:00"),
    ])
    func acceptsTimestampForms(_ eta: String, _ utc: String) throws {
        let raw = Fixtures.envelope(headers: ["task": "t", "id": "i", "eta": .string(eta), "expires": .string(eta)])
        let m = try CeleryMessage.decode(raw).get()
        #expect(m.eta.map(CeleryTimestamp.format) == utc)
        #expect(m.expires == m.eta)
    }

    @Test func readsRetriesTimeLimitsRedeliveredAndFloatPriority() throws {
        let raw = Fixtures.envelope(
            headers: ["task": "t", "id": "i", "retries": 3, "timelimit": [nil, 30], "redelivered": true],
            properties: ["priority": 4.7, "body_encoding": "base64"]
        )
        let m = try CeleryMessage.decode(raw).get()
        #expect(m.retries == 3 && m.timeLimit == .init(hard: nil, soft: 30) && m.isRedelivered && m.priority == 4)
    }

    // MARK: redelivered / retried

    @Test func redeliveredMarksBothPlacesLikeKombu() throws {
        let a = try CeleryMessage.decode(Fixtures.bytes(Fixtures.messageA)).get()
        let again = try CeleryMessage.decode(a.redelivered()).get()
        #expect(again.isRedelivered)
        #expect(again.headers["redelivered"] == true)
        #expect(again.headers.keys.last == "redelivered")
        #expect(again.properties["delivery_info"] == ["exchange": "", "routing_key": "celery", "redelivered": true])
        #expect(again.deliveryTag == a.deliveryTag && again.id == a.id && again.args == a.args)
        // Idempotent: a second restore changes nothing.
        #expect(again.redelivered() == a.redelivered())
        // Without delivery_info, only the header is set (kombu's KeyError path).
        let bare = try CeleryMessage.decode(Fixtures.envelope(properties: ["body_encoding": "base64"])).get()
        let bareAgain = try JSONValue.parse(bare.redelivered()).get()
        #expect(bareAgain["headers"]?["redelivered"] == true)
        #expect(bareAgain["properties"]?["delivery_info"] == nil)
    }

    @Test func retriedIsCeleryRetryRepublish() throws {
        let now = Fixtures.date("2026-11-30T01:56:00.690517+00:00")
        let b = try CeleryMessage.decode(Fixtures.bytes(Fixtures.messageB)).get()
        let eta = now.addingTimeInterval(5)
        let r = try CeleryMessage.decode(b.retried(eta: eta, retries: b.retries + 1, deliveryTag: "new-tag", now: now)).get()
        #expect(r.id == b.id && r.taskName == b.taskName && r.args == b.args && r.kwargs == b.kwargs)
        #expect(r.retries == 1)
        #expect(r.eta == eta)
        #expect(r.parentID == b.id && r.rootID == b.rootID)
        #expect(r.headers["expires"] == b.headers["expires"])
        #expect(r.properties["expiration"] == "120000")
        #expect(r.headers["ignore_result"] == false)
        #expect(r.deliveryTag == "new-tag")
        #expect(r.priority == 5 && r.routingKey == "oauth")
        #expect(r.origin == "gen6811@vm")
        #expect(r.properties["reply_to"] == b.properties["reply_to"])
        #expect(r.headers.keys == b.headers.keys)
        #expect(!r.isRedelivered)
        // A default tag is fresh.
        let r2 = try CeleryMessage.decode(b.retried(eta: eta, retries: 2)).get()
        #expect(r2.deliveryTag != b.deliveryTag && r2.retries == 2)
    }

    @Test func descriptionHidesArguments() throws {
        let m = CeleryMessage.make(taskName: "createapplication", args: ["client-secret-value"], kwargs: ["secret": "s3cr3t"])
        #expect(!m.description.contains("client-secret-value") && !m.description.contains("s3cr3t"))
        #expect(!String(describing: m).contains("s3cr3t"))
    }
}
