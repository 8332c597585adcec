public import CeleryProtocol

/// One periodic task: what to send, where, and when.
public struct BeatEntry: Sendable, Hashable {
    /// The entry's name: part of its Redis keys (`<prefix>:beat:last:<name>`) and of its tick ids.
    public var name: String
    /// `headers.task` of the messages.
    public var task: String
    /// When it fires.
    public var schedule: BeatSchedule
    /// Positional arguments.
    public var args: [JSONValue]
    /// Keyword arguments.
    public var kwargs: JSONObject
    /// The queue (default `celery`).
    public var queue: String
    /// 0…9; on Redis 0 is served first.
    public var priority: Int
    /// Seconds after sending after which a worker revokes the message as expired; nil for never.
    public var expiresSeconds: Int64?

    public init(
        name: String, task: String, schedule: BeatSchedule, args: [JSONValue] = [], kwargs: JSONObject = [:],
        queue: String = CeleryQueue.defaultQueue, priority: Int = 0, expiresSeconds: Int64? = nil
    ) {
        self.name = name
        self.task = task
        self.schedule = schedule
        self.args = args
        self.kwargs = kwargs
        self.queue = queue
        self.priority = priority
        self.expiresSeconds = expiresSeconds
    }

    /// The entry used when no schedule is given: `cleartokens` every day at 03:00 (UTC unless `--timezone`).
    public static var defaultEntry: BeatEntry {
        // The literal is valid; the `try!` cannot fail.
        BeatEntry(name: "cleartokens", task: "cleartokens", schedule: try! BeatSchedule(parsing: "0 3 * * *"))
    }

    /// An entry from the command line: the task name, then the schedule (`cleartokens every 30s`,
    /// `cleartokens 0 3 * * *`). The name is the task name and the schedule as written, single-spaced
    /// (`cleartokens every 30s`), so the same flag keeps its history across restarts.
    /// - Throws: ``BeatScheduleError`` when the task or the schedule is missing or invalid.
    public init(commandLine spec: String) throws(BeatScheduleError) {
        let words = spec.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count >= 2 else {
            throw BeatScheduleError(
                "entry \"\(spec)\": write the task name, then the schedule (e.g. \"cleartokens every 30s\" or "
                    + "\"cleartokens 0 3 * * *\")")
        }
        let task = String(words[0])
        let scheduleText = words.dropFirst().joined(separator: " ")
        let schedule: BeatSchedule
        do {
            schedule = try BeatSchedule(parsing: scheduleText)
        } catch {
            throw BeatScheduleError("entry \"\(spec)\": \(error.description)")
        }
        self.init(name: "\(task) \(scheduleText)", task: task, schedule: schedule)
        try validate()
    }

    /// Checks the name, task, queue, priority and expiry.
    /// - Throws: ``BeatScheduleError`` naming the entry.
    public func validate() throws(BeatScheduleError) {
        func fail(_ reason: String) -> BeatScheduleError { BeatScheduleError("entry \"\(name)\": \(reason)") }
        if name.isEmpty || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw fail("the name must be non-empty and have no control characters")
        }
        if task.isEmpty { throw fail("the task name is empty") }
        if queue.isEmpty { throw fail("the queue name is empty") }
        if !(0...9).contains(priority) { throw fail("priority \(priority) is not in 0-9") }
        if let expiresSeconds, expiresSeconds <= 0 { throw fail("expires must be a positive number of seconds") }
    }
}
