import Beat
import Foundation
import CeleryProtocol
import TestSupport
import Testing

@Suite struct BeatScheduleFileTests {
    @Test("the committed example parses, in file order, with types kept")
    func example() throws {
        let path = RepositoryPaths.root.appendingPathComponent("examples/beat-schedule.yaml").path
        let file = try BeatScheduleFile(contentsOf: path)
        #expect(file.timeZone?.secondsFromGMT() == 0)
        #expect(file.entries.map(\.name) == ["cleartokens-nightly", "ping-every-5-minutes", "weekday-mornings", "clearcimdapplications-nightly"])
        let nightly = file.entries[0]
        #expect(nightly.task == "cleartokens")
        #expect(nightly.schedule == .cron(try CronExpression("0 3 * * *")))
        #expect(nightly.kwargs == ["REFRESH_TOKEN_EXPIRE_SECONDS": 2_592_000, "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 10000])
        #expect(nightly.queue == "oauth")
        #expect(nightly.expiresSeconds == Int64(6 * 3600))
        let ping = file.entries[1]
        #expect(ping.schedule == .interval(seconds: 300))
        #expect(ping.priority == 9)
        #expect(ping.expiresSeconds == 60)
        #expect(file.entries[2].queue == "celery")
        #expect(file.entries[2].priority == 0)
        let cimd = file.entries[3]
        #expect(cimd.task == "clearcimdapplications")
        #expect(cimd.kwargs == ["batch_size": 1000])
    }

    @Test("args and kwargs keep YAML's types")
    func types() throws {
        let file = try BeatScheduleFile(yaml: """
            entries:
              x:
                task: createapplication
                schedule: every 1h
                args: [confidential, client-credentials]
                kwargs: {name: svc, skip_authorization: true, user: "7", ratio: 0.5, nothing: null, list: [1, two]}
            """)
        let entry = file.entries[0]
        #expect(file.timeZone == nil)
        #expect(entry.args == ["confidential", "client-credentials"])
        #expect(entry.kwargs == [
            "name": "svc", "skip_authorization": true, "user": "7", "ratio": 0.5, "nothing": nil, "list": [1, "two"],
        ])
    }

    @Test(
        "errors name the entry and the key",
        arguments: [
            ("entries: {}", "no entries"),
            ("foo: 1", "unknown top-level key \"foo\""),
            ("entries:\n  a:\n    schedule: every 1s", "entry \"a\": task is missing"),
            ("entries:\n  a:\n    task: ping", "entry \"a\": schedule is missing"),
            ("entries:\n  a:\n    task: ping\n    schedule: \"61 * * * *\"", "entry \"a\": cron minute field \"61\""),
            ("entries:\n  a:\n    task: ping\n    schedule: 30", "schedule must be a string"),
            ("entries:\n  a:\n    task: ping\n    schedule: every 1s\n    priorty: 3", "unknown key \"priorty\""),
            ("entries:\n  a:\n    task: ping\n    schedule: every 1s\n    priority: 10", "priority must be an integer from 0 to 9"),
            ("entries:\n  a:\n    task: ping\n    schedule: every 1s\n    expires: -1", "expires must be a positive"),
            ("entries:\n  a:\n    task: ping\n    schedule: every 1s\n    kwargs: [1]", "kwargs must be a mapping"),
            ("timezone: Mars/Olympus\nentries:\n  a:\n    task: ping\n    schedule: every 1s", "not a known time zone"),
            ("entries:\n  a:\n    task: ping\n    schedule: */5 * * * *", "not valid YAML"),
            ("- 1\n- 2", "expected a mapping"),
        ])
    func errors(yaml: String, message: String) {
        #expect {
            _ = try BeatScheduleFile(yaml: yaml, source: "test.yaml")
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("test.yaml: ") && text.contains(message)
        }
    }

    @Test("command-line entries: task then schedule; the name keeps both")
    func commandLine() throws {
        let cron = try BeatEntry(commandLine: "cleartokens 0 3 * * *")
        #expect(cron.name == "cleartokens 0 3 * * *")
        #expect(cron.task == "cleartokens")
        #expect(cron.schedule == .cron(try CronExpression("0 3 * * *")))
        let every = try BeatEntry(commandLine: "  ping   every   30s ")
        #expect(every.name == "ping every 30s")
        #expect(every.schedule == .interval(seconds: 30))
        #expect(throws: BeatScheduleError.self) { try BeatEntry(commandLine: "cleartokens") }
        #expect(throws: BeatScheduleError.self) { try BeatEntry(commandLine: "cleartokens every 0s") }
        #expect(BeatEntry.defaultEntry.schedule == .cron(try CronExpression("0 3 * * *")))
    }
}

@Suite struct BeatKeysTests {
    @Test("keys and the derived task id (Python: uuid.uuid5(uuid.NAMESPACE_URL, name))")
    func keys() {
        let keys = BeatKeys(prefix: "oauthq")
        #expect(keys.lock == "oauthq:beat:lock")
        #expect(keys.last(entry: "cleartokens") == "oauthq:beat:last:cleartokens")
        #expect(keys.tick(entry: "cleartokens", scheduled: 1_764_471_600) == "oauthq:beat:tick:cleartokens:1764471600")
        #expect(keys.taskID(entry: "cleartokens", scheduled: 1_764_471_600) == "a99015ba-b441-5e21-92d8-4869c0516b23")
        #expect(keys.taskID(entry: "cleartokens", scheduled: 1_764_471_601) != keys.taskID(entry: "cleartokens", scheduled: 1_764_471_600))
    }

    @Test("beat messages: derived id, celery_beat_task header, expires from the entry")
    func message() throws {
        let sender = BeatTickSender(keys: BeatKeys(prefix: "p"))
        var entry = BeatEntry(name: "n", task: "cleartokens", schedule: .interval(seconds: 60), kwargs: ["A": 1], queue: "q")
        entry.priority = 6
        entry.expiresSeconds = 120
        let now = Date(timeIntervalSince1970: 1_764_471_600)
        let message = sender.message(for: entry, scheduled: 1_764_471_600, now: now)
        let decoded = try CeleryMessage.decode(message.raw).get()
        #expect(decoded.id == BeatKeys(prefix: "p").taskID(entry: "n", scheduled: 1_764_471_600))
        #expect(decoded.headers["celery_beat_task"] == true)
        #expect(decoded.headers["expires"] == "2025-11-30T03:02:00+00:00")
        #expect(decoded.properties["expiration"] == "120000")
        #expect(decoded.priority == 6)
        #expect(decoded.routingKey == "q")
        #expect(decoded.kwargs == ["A": 1])
    }
}
