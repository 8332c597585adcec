import Foundation
import CeleryProtocol
import Testing

/// oauthq's replies to Celery's remote-control requests and its task events have the shapes a real Celery 5.7
/// worker sends (keys, JSON types, nesting), compared with replies and events captured from one
/// (`harness/interop/capture/capture_celery.py` wrote `captures/`). Values naturally differ.
@Suite("Celery tools: inspect replies and task events in Celery 5.7's shapes")
struct CeleryToolsShapeTests {
    static let captures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("captures")

    static func capture(_ name: String) throws -> JSONValue {
        let text = try String(contentsOf: captures.appendingPathComponent(name), encoding: .utf8)
        return try JSONValue.parse(text).get()
    }

    static func inspect(_ command: String) throws -> JSONValue {
        let all = try capture("celery-5.7-inspect.json")
        let reply = try #require(all.objectValue?[command]?.objectValue?["capture@localhost"], "no capture for \(command)")
        return reply
    }

    /// The differences between two JSON shapes: objects must have the same keys; arrays are compared by their
    /// first elements (when both have one); scalars by JSON type (an integer and a float are both numbers).
    static func shapeDifferences(_ expected: JSONValue, _ actual: JSONValue, path: String = "$") -> [String] {
        switch (expected, actual) {
        case (.object(let left), .object(let right)):
            var differences: [String] = []
            let missing = Set(left.keys).subtracting(right.keys)
            let extra = Set(right.keys).subtracting(left.keys)
            if !missing.isEmpty { differences.append("\(path): missing \(missing.sorted())") }
            if !extra.isEmpty { differences.append("\(path): extra \(extra.sorted())") }
            for key in left.keys where right.contains(key) {
                differences += shapeDifferences(left[key]!, right[key]!, path: path + "." + key)
            }
            return differences
        case (.array(let left), .array(let right)):
            guard let first = left.first, let other = right.first else { return [] }
            return shapeDifferences(first, other, path: path + "[0]")
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double), (.string, .string), (.bool, .bool), (.null, .null):
            return []
        default:
            return ["\(path): \(expected.typeName) in Celery's reply, \(actual.typeName) in oauthq's"]
        }
    }

    static let message = CeleryMessage.make(
        taskName: "oauthq.sleep", id: "6c0a4a3e-5a8d-4b8c-9a57-2a0e0b9b1c11", args: [6], kwargs: [:], queue: "celery",
        eta: Date(timeIntervalSince1970: 1_796_533_150)
    )

    @Test("active/reserved entries: Celery's Request.info() shape")
    func requestInfo() throws {
        let running = InspectTask(message: Self.message, name: "oauthq.sleep", queue: "celery", timeStart: 1_796_533_090.3, workerPID: 42)
        let celeryActive = try #require(Self.inspect("active").arrayValue?.first)
        #expect(Self.shapeDifferences(celeryActive, running.info(hostname: "oauthq@test")) == [])
        let waiting = InspectTask(message: Self.message, name: "oauthq.sleep", queue: "celery")
        let celeryReserved = try #require(Self.inspect("reserved").arrayValue?.first)
        #expect(Self.shapeDifferences(celeryReserved, waiting.info(hostname: "oauthq@test")) == [])
        #expect(waiting.info(hostname: "h").objectValue?["acknowledged"] == false)
        #expect(running.info(hostname: "h").objectValue?["acknowledged"] == true)
    }

    @Test("scheduled entries, query_task, active_queues and stats")
    func collections() throws {
        let task = InspectTask(message: Self.message, name: "oauthq.sleep", queue: "celery")
        let celeryScheduled = try #require(Self.inspect("scheduled").arrayValue?.first)
        #expect(Self.shapeDifferences(celeryScheduled, InspectReplies.scheduledEntry(task, hostname: "h")) == [])

        let celeryQuery = try #require(Self.inspect("query_task").objectValue?.members.first?.value)
        let ours = InspectReplies.queryTask([("active", task)], hostname: "h")
        #expect(Self.shapeDifferences(celeryQuery, try #require(ours.objectValue?[task.id])) == [])
        #expect(ours.objectValue?[task.id]?.arrayValue?.first == "active")

        let celeryQueue = try #require(Self.inspect("active_queues").arrayValue?.first)
        #expect(Self.shapeDifferences(celeryQueue, InspectReplies.activeQueue("celery")) == [])

        // `total` is keyed by task name: give ours the captured names, so that only the shape is compared.
        let names = try #require(Self.inspect("stats").objectValue?["total"]?.objectValue?.keys)
        let stats = InspectReplies.stats(
            .init(
                pid: 7, clock: 12, uptime: 3, concurrency: 2, prefetchCount: 32, totals: Dictionary(uniqueKeysWithValues: names.map { ($0, 1) }), brokerHost: "127.0.0.1",
                brokerPort: 6379, brokerDatabase: 3,
                rusage: ["utime", "stime", "maxrss", "ixrss", "idrss", "isrss", "minflt", "majflt", "nswap", "inblock", "oublock", "msgsnd",
                    "msgrcv", "nsignals", "nvcsw", "nivcsw"].map { ($0, JSONValue.int(0)) }
            )
        )
        let statsDifferences = Self.shapeDifferences(try Self.inspect("stats"), stats)
        #expect(statsDifferences == [])
    }

    @Test("registered, revoked, report, ok-replies and the unknown-command reply")
    func simpleReplies() throws {
        #expect(try Self.inspect("registered").arrayValue?.first?.stringValue != nil)
        #expect(try Self.inspect("revoked").arrayValue?.first?.stringValue != nil)
        #expect(Self.shapeDifferences(try Self.inspect("report"), InspectReplies.report(softwareVersion: "0.1.0", system: "Linux", broker: "redis://x/0", queues: ["celery"])) == [])
        #expect(Self.shapeDifferences(try Self.inspect("cancel_consumer"), InspectReplies.ok("no longer consuming from other")) == [])
        #expect(try Self.inspect("cancel_consumer") == InspectReplies.ok("no longer consuming from other"))
        #expect(try Self.inspect("add_consumer") == InspectReplies.ok("add consumer other"))
        #expect(try Self.inspect("enable_events") == InspectReplies.ok("task events already enabled"))
        // The exact texts Celery sends.
        #expect(try Self.inspect("unknown") == InspectReplies.unknownCommand("no_such_command"))
        #expect(try Self.inspect("revoke") == InspectReplies.revoked(["00000000-0000-0000-0000-000000000000"]))
        #expect(InspectReplies.terminated([]) == InspectReplies.ok("terminate: tasks unknown"))
        #expect(InspectReplies.unknownCommand("it's") == InspectReplies.error(#"KeyError("it's")"#))
    }

    @Test("task events: received, started, succeeded, failed, retried have Celery's fields; revoked and rejected Celery's source fields")
    func taskEvents() throws {
        let captured = try #require(try Self.capture("celery-5.7-events.json").objectValue)
        let id = Self.message.id
        let made: [String: CeleryTaskEvent] = [
            "task-received": .received(
                uuid: id, name: "ping", args: "()", kwargs: "{}", retries: 0, eta: nil, expires: nil, rootID: id, parentID: nil
            ),
            "task-started": .started(uuid: id),
            "task-succeeded": .succeeded(uuid: id, result: "'pong'", runtime: 0.01),
            "task-failed": .failed(uuid: id, exception: "ValueError('boom')", traceback: "ValueError('boom')"),
            "task-retried": .retried(uuid: id, exception: "RuntimeError('again')", traceback: "RuntimeError('again')"),
        ]
        for (type, event) in made {
            let celery = try #require(captured[type], "no captured \(type)")
            let ours = event.body(hostname: "oauthq@test", pid: 1, clock: 3, timestamp: Date(), utcOffset: 0)
            #expect(Self.shapeDifferences(celery, ours) == [], "\(type)")
            #expect(ours.objectValue?["type"] == .string(type))
        }
        // Not captured (a revoke and a reject need timing the capture avoids): the fields Celery 5.7's Request sends.
        let revoked = CeleryTaskEvent.revoked(uuid: id, terminated: true, expired: false).body(hostname: "h", pid: 1, clock: 1, timestamp: Date(), utcOffset: 0)
        #expect(Set(revoked.objectValue?.keys ?? []) == ["hostname", "utcoffset", "pid", "clock", "uuid", "terminated", "signum", "expired", "timestamp", "type"])
        let rejected = CeleryTaskEvent.rejected(uuid: id, requeue: false).body(hostname: "h", pid: 1, clock: 1, timestamp: Date(), utcOffset: 0)
        #expect(rejected.objectValue?["requeue"] == false)
        let envelope = CeleryTaskEvent.started(uuid: id).envelope(hostname: "h", pid: 1, clock: 1)
        #expect(envelope.properties["delivery_info"]?.objectValue?["routing_key"] == "task.started")
        #expect(CeleryTaskEvent.started(uuid: id).channel(database: 3) == "/3.celeryev/task.started")
    }

    @Test("inspect entries never carry a secret-looking keyword argument in clear")
    func masking() {
        let message = CeleryMessage.make(
            taskName: "createapplication", args: ["confidential", ["client_secret": "s3cret"]],
            kwargs: ["client_secret": "s3cret", "name": "app", "nested": ["password": "p"]], queue: "celery"
        )
        let info = InspectTask(message: message, name: "createapplication", queue: "celery").info(hostname: "h")
        let text = String(decoding: info.serialized(), as: UTF8.self)
        #expect(!text.contains("s3cret") && !text.contains("\"p\""))
        #expect(text.contains("app"))
    }
}
