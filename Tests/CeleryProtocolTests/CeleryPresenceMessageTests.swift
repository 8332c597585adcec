import Foundation
import Testing

@testable import CeleryProtocol

/// Worker events and remote control against messages captured from a real Celery 5.7 worker and `celery inspect
/// ping` (`redis-cli PSUBSCRIBE '/*'` and `MONITOR` on a scratch Redis, database 3).
@Suite("Celery events and pidbox messages")
struct CeleryPresenceMessageTests {
    /// A `worker-heartbeat` published by `celery worker -n capw@vm` on `/3.celeryev/worker.heartbeat`.
    static let capturedHeartbeat = "{\"body\": \"eyJob3N0bmFtZSI6ICJjYXB3QHZtIiwgInV0Y29mZnNldCI6IDAuMCwgInBpZCI6IDY0NjAsICJjbG9jayI6IDIsICJmcmVxIjogMi4wLCAiYWN0aXZlIjogMCwgInByb2Nlc3NlZCI6IDAsICJsb2FkYXZnIjogWzEuMDYsIDMuNTMsIDQuOTldLCAic3dfaWRlbnQiOiAicHktY2VsZXJ5IiwgInN3X3ZlciI6ICI1LjcuMCIsICJzd19zeXMiOiAiTGludXgiLCAidGltZXN0YW1wIjogMTc5NjAyMzYxNi4xMjY0NTg0LCAidHlwZSI6ICJ3b3JrZXItaGVhcnRiZWF0In0=\", \"content-encoding\": \"utf-8\", \"content-type\": \"application/json\", \"headers\": {\"hostname\": \"capw@vm\"}, \"properties\": {\"delivery_mode\": 1, \"delivery_info\": {\"exchange\": \"celeryev\", \"routing_key\": \"worker.heartbeat\"}, \"priority\": 0, \"body_encoding\": \"base64\", \"delivery_tag\": \"5fb7ba8e-8418-4197-8790-4915bc6e7101\"}}"
    /// `celery inspect ping`'s request on `/3.celery.pidbox`.
    static let capturedPing = "{\"body\": \"eyJtZXRob2QiOiAicGluZyIsICJhcmd1bWVudHMiOiB7fSwgImRlc3RpbmF0aW9uIjogbnVsbCwgInBhdHRlcm4iOiBudWxsLCAibWF0Y2hlciI6IG51bGwsICJ0aWNrZXQiOiAiZmU0Y2RkODgtOWU2Mi00ZGI3LWI5YzctYzA5NTEzMzAyYmJlIiwgInJlcGx5X3RvIjogeyJleGNoYW5nZSI6ICJyZXBseS5jZWxlcnkucGlkYm94IiwgInJvdXRpbmdfa2V5IjogIjZkNWMxZmU5LWY2NjEtMzdmNC1iNjUyLWE5MDI5OTRmMDgwZCJ9fQ==\", \"content-encoding\": \"utf-8\", \"content-type\": \"application/json\", \"headers\": {\"clock\": 1, \"expires\": 1796023623.2655396}, \"properties\": {\"delivery_mode\": 2, \"delivery_info\": {\"exchange\": \"celery.pidbox\", \"routing_key\": \"\"}, \"priority\": 0, \"body_encoding\": \"base64\", \"delivery_tag\": \"f2122b96-2bb5-4d80-9fb5-be30663bd503\"}}"
    /// The worker's reply, LPUSHed to `<oid>.reply.celery.pidbox`.
    static let capturedReply = "{\"body\": \"eyJjYXB3QHZtIjogeyJvayI6ICJwb25nIn19\", \"content-encoding\": \"utf-8\", \"content-type\": \"application/json\", \"headers\": {\"ticket\": \"fe4cdd88-9e62-4db7-b9c7-c09513302bbe\", \"clock\": 3}, \"properties\": {\"delivery_mode\": 1, \"delivery_info\": {\"exchange\": \"reply.celery.pidbox\", \"routing_key\": \"6d5c1fe9-f661-37f4-b652-a902994f080d\"}, \"priority\": 0, \"body_encoding\": \"base64\", \"delivery_tag\": \"382f422a-0e1d-460a-9b9d-53b59b6f39c9\"}}"

    @Test("a heartbeat is byte for byte the envelope Celery publishes (same body keys and order, header, properties)")
    func heartbeat() throws {
        let event = CeleryWorkerEvent(
            kind: .heartbeat, hostname: "capw@vm", pid: 6460, clock: 2, active: 0, processed: 0,
            loadAverage: [1.06, 3.53, 4.99], timestamp: Date(timeIntervalSince1970: 1_796_023_616.1264584), utcOffset: 0,
            softwareIdentity: "py-celery", softwareVersion: "5.7.0"
        )
        let bytes = event.envelope(deliveryTag: "5fb7ba8e-8418-4197-8790-4915bc6e7101").serialized()
        #expect(String(decoding: bytes, as: UTF8.self) == Self.capturedHeartbeat)
        #expect(event.channel(database: 3) == "/3.celeryev/worker.heartbeat")
        #expect(CeleryWorkerEvent(kind: .online, hostname: "h", pid: 1, clock: 1, active: 0, processed: 0, loadAverage: [], softwareVersion: "x").type == "worker-online")
        #expect(CeleryWorkerEvent.utcOffsetHours(secondsEastOfUTC: 0) == 0)
        #expect(CeleryWorkerEvent.utcOffsetHours(secondsEastOfUTC: 5 * 3600 + 1800) == -5.5)
        let now = Date()
        #expect(CeleryWorkerEvent.localSecondsEastOfUTC(at: now) == TimeZone.current.secondsFromGMT(for: now))
    }

    @Test("the captured ping request decodes; the reply is byte for byte Celery's")
    func ping() throws {
        let envelope = try #require(KombuEnvelope.decode(Array(Self.capturedPing.utf8)))
        #expect(envelope.headers["clock"] == 1)
        let request = try #require(PidboxRequest(body: envelope.body))
        #expect(request.method == "ping")
        #expect(request.ticket == "fe4cdd88-9e62-4db7-b9c7-c09513302bbe")
        #expect(request.replyTo?.exchange == "reply.celery.pidbox")
        #expect(request.replyTo?.routingKey == "6d5c1fe9-f661-37f4-b652-a902994f080d")
        #expect(request.isAddressed(to: "capw@vm"))
        var reply = try #require(request.reply(["ok": "pong"], hostname: "capw@vm", clock: 3))
        reply.properties["delivery_tag"] = "382f422a-0e1d-460a-9b9d-53b59b6f39c9"
        #expect(String(decoding: reply.serialized(), as: UTF8.self) == Self.capturedReply)
        #expect(PidboxRequest.channel(database: 3) == "/3.celery.pidbox")
        #expect(PidboxRequest.bindingMember(hostname: "capw@vm") == "\u{06}\u{16}\u{06}\u{16}capw@vm.celery.pidbox")
    }

    static func request(destination: JSONValue = .null, pattern: JSONValue = .null, matcher: JSONValue = .null) -> PidboxRequest {
        PidboxRequest(body: ["method": "ping", "destination": destination, "pattern": pattern, "matcher": matcher, "ticket": "t"])!
    }

    @Test("addressing follows kombu: destination list, else pattern with glob or pcre matcher, else everyone")
    func addressing() {
        let me = "oauthq@host-1"
        #expect(Self.request().isAddressed(to: me))
        #expect(Self.request(destination: [.string(me)]).isAddressed(to: me))
        #expect(!Self.request(destination: ["celery@other"]).isAddressed(to: me))
        #expect(Self.request(destination: []).isAddressed(to: me), "an empty destination means everyone")
        #expect(Self.request(pattern: "oauthq@*", matcher: "glob").isAddressed(to: me))
        #expect(!Self.request(pattern: "celery@*", matcher: "glob").isAddressed(to: me))
        #expect(Self.request(pattern: "oauthq@host-\\d", matcher: "pcre").isAddressed(to: me))
        #expect(!Self.request(pattern: "host", matcher: "pcre").isAddressed(to: me), "re.match is anchored at the start")
        #expect(!Self.request(pattern: "[", matcher: "pcre").isAddressed(to: me))
        #expect(!Self.request(pattern: "*", matcher: "nosuch").isAddressed(to: me), "an unknown matcher fails in kombu")
        #expect(Self.request(pattern: "celery@*").isAddressed(to: me), "a pattern without a matcher is ignored")
        #expect(Self.request(destination: [.string(me)]).reply(.null, hostname: me, clock: 1) == nil, "no reply_to: a cast")
    }

    @Test("envelopes: plain JSON bodies accepted, garbage and other encodings rejected")
    func envelopes() {
        #expect(KombuEnvelope.decode(Array(#"{"body": "{\"method\": \"ping\"}", "properties": {}}"#.utf8))?.body == ["method": "ping"])
        #expect(KombuEnvelope.decode(Array("not json".utf8)) == nil)
        #expect(KombuEnvelope.decode(Array(#"{"body": "!!", "properties": {"body_encoding": "base64"}}"#.utf8)) == nil)
        #expect(KombuEnvelope.decode(Array(#"{"body": "e30=", "properties": {"body_encoding": "rot13"}}"#.utf8)) == nil)
        #expect(KombuEnvelope.decode(Array(#"{"body": "e30=", "content-type": "application/x-python-serialize", "properties": {"body_encoding": "base64"}}"#.utf8)) == nil)
        #expect(PidboxRequest(body: ["arguments": [:]]) == nil)
    }
}
